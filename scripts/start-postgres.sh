#!/usr/bin/env bash
# Install (from Debian's packages) and start a local PostgreSQL for the replica tests, then print
# the URL the tests read from MODELYARD_TEST_PG_URL. Loopback only; idempotent.
set -euo pipefail
if [ ! -d /usr/lib/postgresql ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main" || pg_createcluster "$version" main >/dev/null
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main status >/dev/null
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='modelyard'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE modelyard LOGIN PASSWORD 'modelyard' CREATEDB\""
echo "postgresql+psycopg://modelyard:modelyard@127.0.0.1:5432/postgres"
