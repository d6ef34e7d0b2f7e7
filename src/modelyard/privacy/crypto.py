"""Encryption at rest: envelope encryption with AES-256-GCM.

One **master key** (32 bytes, from ``$MODELYARD_KEY`` or a 0600 key file) never
touches data directly: it only wraps **data keys**, which encrypt the values.
The wrapped data keys live in a JSON keyring beside the key file, so:

- rotating means adding a data key; old tokens stay readable while a caller
  re-encrypts them (no downtime), then the old key is retired;
- the database and the keyring hold nothing usable without the master key, and
  the master key itself is never written to either, nor logged.

A token is ASCII, ``myenc1:<key id>:<urlsafe b64 of nonce + ciphertext>``; a
caller's ``context`` (e.g. ``"feedback:42"``) is bound as associated data, so a
ciphertext copied to another row fails to decrypt instead of leaking there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelyard import settings
from modelyard.artifacts import fsync_path
from modelyard.errors import AlreadyExists, ConfigError, IntegrityError, NotFound, TooLarge

try:  # POSIX only; elsewhere concurrent keyring writers are not serialised across processes.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

KEY_ENV = "MODELYARD_KEY"
KEY_FILE_ENV = "MODELYARD_KEY_FILE"
TOKEN_PREFIX = "myenc1"
KEY_BYTES = 32
NONCE_BYTES = 12
# AESGCM in `cryptography` refuses inputs of 2**31 bytes or more; say so before it does.
MAX_PLAINTEXT = 2**31 - 1 - 16

_KEY_ID = re.compile(r"^[0-9a-f]{8}$")
_TOKEN = re.compile(rf"^{TOKEN_PREFIX}:([0-9a-f]{{8}}):([A-Za-z0-9_\-]+={{0,2}})$")
# A file holds the same parts as a token, in binary: magic, key id, nonce + ciphertext.
_FILE_MAGIC = f"{TOKEN_PREFIX}:".encode()


@dataclass(frozen=True)
class MasterKey:
    """The master key and where it came from (named in error messages; the bytes never are)."""

    material: bytes = field(repr=False)
    source: str


def keys_dir(home: Path | None = None) -> Path:
    return (home if home is not None else settings.home()) / "keys"


def key_file_path(home: Path | None = None) -> Path:
    """``$MODELYARD_KEY_FILE``, default ``$MODELYARD_HOME/keys/master.key``."""
    override = os.environ.get(KEY_FILE_ENV)
    return Path(override).expanduser() if override else keys_dir(home) / "master.key"


def keyring_path(home: Path | None = None) -> Path:
    return keys_dir(home) / "data_keys.json"


def _decode_key(text: str, source: str) -> bytes:
    try:
        material = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        material = b""
    if len(material) != KEY_BYTES:
        # The value itself is a secret: name where it came from, never echo it.
        raise ConfigError(
            f"the master key from {source} is not urlsafe base64 of {KEY_BYTES} bytes; "
            f"create a new one with `modelyard keys init` (only if nothing was encrypted with the old one)"
        )
    return material


def load_master_key(home: Path | None = None) -> MasterKey:
    """Read the master key from ``$MODELYARD_KEY`` or else the key file (which must be mode 0600)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return MasterKey(_decode_key(from_env, KEY_ENV), KEY_ENV)
    path = key_file_path(home)
    if not path.is_file():
        raise ConfigError(
            f"no master key: {KEY_ENV} is not set and there is no key file at {path}; "
            f"run `modelyard keys init` to create one (then back it up: data encrypted with it "
            f"cannot be read without it), or set {KEY_ENV} to urlsafe base64 of {KEY_BYTES} random bytes"
        )
    source = f"key file {path}"
    if os.name == "posix":
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"the {source} is readable by other users (mode {mode:04o}); "
                f"it must be readable by its owner only: run `chmod 600 {path}`"
            )
    return MasterKey(_decode_key(path.read_text(encoding="ascii", errors="replace"), source), source)


def create_master_key(path: Path | None = None) -> Path:
    """Write a new random master key file (mode 0600) atomically; refuse to replace an existing one."""
    path = path if path is not None else key_file_path()
    if path.exists():
        raise AlreadyExists(
            f"a master key file already exists at {path}; refusing to overwrite it "
            f"(data encrypted with it would become unreadable)"
        )
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    _write_new_file(temporary, encoded)
    try:
        # link() fails if the name exists, so two concurrent `keys init` cannot both "win".
        os.link(temporary, path)
    except FileExistsError:
        raise AlreadyExists(f"a master key file already exists at {path}; refusing to overwrite it") from None
    finally:
        temporary.unlink(missing_ok=True)
    fsync_path(path.parent)
    return path


def _write_new_file(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.name == "posix":
            os.fchmod(descriptor, 0o600)  # the umask can only remove bits, but be explicit
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file beside ``path`` (0600) + fsync + os.replace: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        _write_new_file(temporary, data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_path(path.parent)


def is_sealed(raw: bytes) -> bool:
    """Whether ``raw`` starts like the output of :meth:`Vault.seal` (nothing is decrypted)."""
    return raw.startswith(_FILE_MAGIC)


def sealed_key_id(path: Path) -> str | None:
    """The data key a sealed file was encrypted with; ``None`` for a file that is not sealed."""
    with Path(path).open("rb") as handle:
        head = handle.read(len(_FILE_MAGIC) + 9)
    key_id = head[len(_FILE_MAGIC) : len(_FILE_MAGIC) + 8].decode("ascii", errors="replace")
    return key_id if is_sealed(head) and _KEY_ID.match(key_id) else None


def ensure_master_key(home: Path | None = None) -> MasterKey:
    """The master key; on a home that has never encrypted anything, create the key file first.

    Encryption at rest is on by default, so the first write needs a key. A home that
    already has a keyring never gets a new master key silently: its data would be lost.
    """
    if not os.environ.get(KEY_ENV) and not key_file_path(home).exists() and not keyring_path(home).exists():
        create_master_key(key_file_path(home))
    return load_master_key(home)


def project_salt(project: str, home: Path | None = None) -> bytes:
    """The project's secret salt for the ``hash`` operator: made once, kept sealed under the data key."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", project):
        raise ConfigError(f"project name {project!r} cannot name a salt; use letters, digits, '.', '_' or '-'")
    path = keys_dir(home) / "salts" / f"{project}.salt"
    vault = Vault(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # exclusive create: two racing importers end with one salt
            _write_new_file(path, vault.seal(secrets.token_bytes(32), context=f"salt:{project}"))
    return vault.unseal(path.read_bytes(), context=f"salt:{project}", what=f"the salt of project {project}")


def is_token(value: str) -> bool:
    """Whether ``value`` looks like a token from :meth:`Vault.encrypt` (syntax only; nothing is decrypted)."""
    return isinstance(value, str) and _TOKEN.match(value) is not None


def token_key_id(token: str) -> str:
    """The id of the data key a token was encrypted with (to find what still needs re-encryption)."""
    return _parse_token(token)[0]


def _parse_token(token: str) -> tuple[str, bytes]:
    match = _TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        raise IntegrityError(f"cannot decrypt: the value is not a modelyard token ({TOKEN_PREFIX}:<key id>:<data>)")
    try:
        blob = base64.urlsafe_b64decode(match.group(2))
    except (binascii.Error, ValueError):
        raise IntegrityError("cannot decrypt: the token's data is not valid base64 (truncated or altered)") from None
    if len(blob) < NONCE_BYTES + 16:
        raise IntegrityError("cannot decrypt: the token is truncated")
    return match.group(1), blob


def _associated_data(key_id: str, context: str) -> bytes:
    return f"{TOKEN_PREFIX}:{key_id}:{context}".encode()


class Vault:
    """Encrypts and decrypts values and files under the active data key of one modelyard home.

    Cheap to construct: nothing is read until the first call. Unwrapped data keys are
    cached in memory for the life of the object.
    """

    is_token = staticmethod(is_token)

    def __init__(self, home: Path | None = None, *, master_key: MasterKey | None = None) -> None:
        self._home = home
        self._master = master_key
        self._keys: dict[str, bytes] = {}
        self._active: str | None = None
        self._lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes | str, *, context: str = "") -> str:
        """Encrypt under the active data key (created on first use); returns an ASCII token."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        key_id, blob = self._seal(data, context)
        return f"{TOKEN_PREFIX}:{key_id}:{base64.urlsafe_b64encode(blob).decode('ascii')}"

    def decrypt_bytes(self, token: str, *, context: str = "") -> bytes:
        key_id, blob = _parse_token(token)
        return self._open(key_id, blob, context)

    def decrypt(self, token: str, *, context: str = "") -> str:
        data = self.decrypt_bytes(token, context=context)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise IntegrityError("the decrypted value is not UTF-8 text; use decrypt_bytes for binary values") from None

    def seal(self, plaintext: bytes, *, context: str = "") -> bytes:
        """Encrypt bytes into the file format (magic, key id, nonce + ciphertext)."""
        key_id, blob = self._seal(plaintext, context)
        return _FILE_MAGIC + key_id.encode("ascii") + b":" + blob

    def unseal(self, raw: bytes, *, context: str = "", what: str = "the data") -> bytes:
        """Decrypt what :meth:`seal` produced; an altered or foreign blob is an :class:`IntegrityError`."""
        head = len(_FILE_MAGIC)
        key_id = raw[head : head + 8].decode("ascii", errors="replace")
        if not is_sealed(raw) or not _KEY_ID.match(key_id) or raw[head + 8 : head + 9] != b":":
            raise IntegrityError(f"cannot decrypt {what}: it is not encrypted by modelyard")
        return self._open(key_id, raw[head + 9 :], context, what=what)

    def encrypt_file(self, source: Path, destination: Path, *, context: str = "") -> None:
        """Encrypt a whole file (read into memory) and write it atomically to ``destination``."""
        atomic_write(Path(destination), self.seal(Path(source).read_bytes(), context=context))

    def decrypt_file(self, source: Path, destination: Path, *, context: str = "") -> None:
        """Decrypt a file written by :meth:`encrypt_file`; ``destination`` is written (0600) only on success."""
        plaintext = self.unseal(Path(source).read_bytes(), context=context, what=str(source))
        atomic_write(Path(destination), plaintext)

    def key_ids(self) -> list[str]:
        """Every data key in the keyring (the active one included)."""
        ring = self._read_keyring()
        return sorted(ring["keys"]) if ring else []

    def active_key_id(self) -> str:
        """The id new tokens are encrypted with (creates the first data key if there is none)."""
        return self._active_key()[0]

    def rotate_data_key(self) -> str:
        """Create a new data key and make it active; older keys stay readable until retired."""
        with self._locked_keyring() as ring:
            key_id = self._add_key(ring)
            self._write_keyring(ring)
            self._active = key_id
            return key_id

    def reencrypt(self, token: str, *, context: str = "") -> str:
        """Return ``token`` encrypted under the active key (unchanged if it already is, after checking it)."""
        plaintext = self.decrypt_bytes(token, context=context)
        if token_key_id(token) == self.active_key_id():
            return token
        return self.encrypt(plaintext, context=context)

    def retire(self, key_id: str) -> None:
        """Drop an old data key; call only once nothing encrypted with it remains (it cannot be undone)."""
        with self._locked_keyring() as ring:
            if key_id not in ring["keys"]:
                raise NotFound(f"no data key {key_id!r} in {keyring_path(self._home)}")
            if key_id == ring["active"]:
                raise ConfigError(
                    f"data key {key_id} is the active key and cannot be retired; "
                    f"rotate first (`rotate_data_key`), re-encrypt, then retire it"
                )
            del ring["keys"][key_id]
            self._write_keyring(ring)
            self._keys.pop(key_id, None)

    # -- AES-GCM --------------------------------------------------------------------------------

    def _seal(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        if len(plaintext) > MAX_PLAINTEXT:
            raise TooLarge(f"cannot encrypt {len(plaintext)} bytes in one piece; the limit is {MAX_PLAINTEXT}")
        key_id, key = self._active_key()
        # Random 96-bit nonces: safe for ~2**32 encryptions per key; rotate long before that.
        nonce = secrets.token_bytes(NONCE_BYTES)
        return key_id, nonce + AESGCM(key).encrypt(nonce, plaintext, _associated_data(key_id, context))

    def _open(self, key_id: str, blob: bytes, context: str, *, what: str = "the token") -> bytes:
        key = self._data_key(key_id)
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _associated_data(key_id, context))
        except InvalidTag:
            raise IntegrityError(
                f"cannot decrypt {what}: it was altered, or it belongs to another record "
                f"(decrypted with context {context!r}, which must match the one used to encrypt it)"
            ) from None

    # -- keyring --------------------------------------------------------------------------------

    def _master_key(self) -> MasterKey:
        if self._master is None:
            self._master = ensure_master_key(self._home)
        return self._master

    def _active_key(self) -> tuple[str, bytes]:
        if self._active is None or self._active not in self._keys:
            ring = self._read_keyring()
            if ring is None:
                # First encryption in this home: create the keyring under the lock (re-read inside it).
                with self._locked_keyring() as locked:
                    if not locked["keys"]:
                        self._add_key(locked)
                        self._write_keyring(locked)
                    ring = locked
            self._active = ring["active"]
            self._remember(ring, ring["active"])
        assert self._active is not None
        return self._active, self._keys[self._active]

    def _data_key(self, key_id: str) -> bytes:
        if key_id not in self._keys:
            # Another process may have rotated since we cached: always consult the file.
            ring = self._read_keyring() or {"active": None, "keys": {}}
            if key_id not in ring["keys"]:
                raise IntegrityError(
                    f"cannot decrypt: data key {key_id} is not in the keyring {keyring_path(self._home)} "
                    f"(it was retired, or the keyring was replaced or lost)"
                )
            self._remember(ring, key_id)
        return self._keys[key_id]

    def _remember(self, ring: dict[str, Any], key_id: str) -> None:
        master = self._master_key()
        try:
            wrapped = base64.urlsafe_b64decode(ring["keys"][key_id]["wrapped"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise IntegrityError(
                f"the keyring {keyring_path(self._home)} is damaged: data key {key_id} has no valid 'wrapped' "
                f"value; restore the keyring from a backup"
            ) from None
        try:
            key = AESGCM(master.material).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode("ascii"))
        except (InvalidTag, ValueError):
            raise ConfigError(
                f"cannot decrypt: the master key does not match the one these data were encrypted with "
                f"(master key from {master.source}; keyring {keyring_path(self._home)}); "
                f"set {KEY_ENV} or {KEY_FILE_ENV} to the original key"
            ) from None
        self._keys[key_id] = key

    def _add_key(self, ring: dict[str, Any]) -> str:
        master = self._master_key()  # fail on a missing or bad master key before changing anything
        if ring["keys"]:
            self._remember(ring, ring["active"])  # a wrong master key must not add a key nobody can read
        key_id = secrets.token_hex(4)
        while key_id in ring["keys"]:
            key_id = secrets.token_hex(4)
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = secrets.token_bytes(NONCE_BYTES)
        wrapped = nonce + AESGCM(master.material).encrypt(nonce, key, key_id.encode("ascii"))
        ring["keys"][key_id] = {
            "wrapped": base64.urlsafe_b64encode(wrapped).decode("ascii"),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        ring["active"] = key_id
        self._keys[key_id] = key
        return key_id

    def _read_keyring(self) -> dict[str, Any] | None:
        path = keyring_path(self._home)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            ring = json.loads(text)
            valid = isinstance(ring["keys"], dict) and ring["active"] in ring["keys"]
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            raise IntegrityError(
                f"the keyring {path} is damaged (expected {{'active': id, 'keys': {{id: ...}}}}); "
                f"restore it from a backup: the data keys inside it cannot be recreated"
            )
        result: dict[str, Any] = ring
        return result

    def _write_keyring(self, ring: dict[str, Any]) -> None:
        atomic_write(keyring_path(self._home), (json.dumps(ring, indent=2, sort_keys=True) + "\n").encode())

    @contextmanager
    def _locked_keyring(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the keyring with other threads and processes held off.

        Without the lock, two processes encrypting for the first time would each create a
        key and the last writer would silently orphan the other's tokens.
        """
        path = keyring_path(self._home)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, open(path.parent / "data_keys.lock", "a") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield self._read_keyring() or {"active": None, "keys": {}}
            finally:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
