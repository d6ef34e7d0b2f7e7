#!/usr/bin/env bash
# Install (from Debian's packages) and start a local PostgreSQL for the replica tests, then print
# the URL the tests read from MODELYARD_TEST_PG_URL. Loopback only; idempotent.
set -euo pipefail
# Everything but the final URL goes to stderr: callers capture stdout as the URL.
exec 3>&1 1>&2
if [ ! -d /usr/lib/postgresql ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main" || pg_createcluster "$version" main >/dev/null
# 3>&- : the server must not inherit the URL pipe, or the caller would wait on it forever.
pg_ctlcluster "$version" main start 3>&- || pg_ctlcluster "$version" main status >/dev/null 3>&-
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='modelyard'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE modelyard LOGIN PASSWORD 'modelyard' CREATEDB\""
echo >&3 "postgresql+psycopg://modelyard:modelyard@127.0.0.1:5432/postgres"
