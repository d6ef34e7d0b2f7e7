"""Envelope encryption at rest: master key loading, tokens, files, rotation and failure modes."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from modelyard.errors import AlreadyExists, ConfigError, IntegrityError, NotFound
from modelyard.privacy.crypto import (
    KEY_ENV,
    KEY_FILE_ENV,
    Vault,
    create_master_key,
    is_token,
    key_file_path,
    keyring_path,
    load_master_key,
    token_key_id,
)

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(100, 132))


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, _b64(MASTER))
    return tmp_path


def test_round_trip_str_and_bytes(home: Path) -> None:
    vault = Vault()
    token = vault.encrypt("jane.doe@example.com")
    assert token.isascii() and is_token(token) and vault.is_token(token)
    assert "jane" not in token
    assert vault.decrypt(token) == "jane.doe@example.com"
    binary = bytes(range(256))
    assert vault.decrypt_bytes(vault.encrypt(binary)) == binary
    assert Vault().decrypt(vault.encrypt("")) == ""  # a fresh Vault reads the same keyring
    assert vault.encrypt("same") != vault.encrypt("same")  # random nonces


@pytest.mark.parametrize(
    "value",
    ["", "plain text", "myenc1:abc:xyz", "myenc1:0123abcd:not base64!", "myenc2:0123abcd:AAAA", "<ENC:x>"],
)
def test_is_token_rejects_non_tokens(value: str) -> None:
    assert not is_token(value)


def test_file_round_trip(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "upload.csv"
    source.write_bytes(b"text,label\nmy card 4111 1111 1111 1111,lost\n" * 100)
    encrypted = tmp_path / "upload.csv.enc"
    restored = tmp_path / "restored.csv"
    vault = Vault()
    vault.encrypt_file(source, encrypted, context="dataset:3")
    assert b"4111" not in encrypted.read_bytes()
    vault.decrypt_file(encrypted, restored, context="dataset:3")
    assert restored.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600

    with pytest.raises(IntegrityError, match="context"):
        vault.decrypt_file(encrypted, tmp_path / "nope.csv", context="dataset:4")
    assert not (tmp_path / "nope.csv").exists()
    with pytest.raises(IntegrityError, match="not encrypted by modelyard"):
        vault.decrypt_file(source, tmp_path / "nope.csv")


def test_context_is_bound(home: Path) -> None:
    vault = Vault()
    token = vault.encrypt("secret", context="feedback:42")
    assert vault.decrypt(token, context="feedback:42") == "secret"
    for wrong in ["feedback:43", ""]:
        with pytest.raises(IntegrityError, match="another record"):
            vault.decrypt(token, context=wrong)


def test_tampered_token_is_an_integrity_error(home: Path) -> None:
    vault = Vault()
    token = vault.encrypt("secret")
    prefix, key_id, data = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(data))
    raw[-1] ^= 1
    tampered = f"{prefix}:{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(IntegrityError, match="altered"):
        vault.decrypt(tampered)
    with pytest.raises(IntegrityError, match="truncated"):
        vault.decrypt(f"{prefix}:{key_id}:AAAA")
    with pytest.raises(IntegrityError, match="not a modelyard token"):
        vault.decrypt("hello")
    with pytest.raises(IntegrityError, match="not in the keyring"):
        vault.decrypt(f"{prefix}:ffffffff:{data}" if key_id != "ffffffff" else f"{prefix}:00000000:{data}")


def test_wrong_master_key_is_clear_and_changes_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = Vault().encrypt("secret", context="row:1")
    ring = keyring_path()
    before = ring.read_bytes()
    monkeypatch.setenv(KEY_ENV, _b64(OTHER_MASTER))
    vault = Vault()
    with pytest.raises(ConfigError, match=f"master key does not match.*{KEY_ENV}"):
        vault.decrypt(token, context="row:1")
    with pytest.raises(ConfigError, match="master key does not match"):
        vault.encrypt("new")
    with pytest.raises(ConfigError, match="master key does not match"):
        vault.rotate_data_key()
    assert ring.read_bytes() == before
    assert [p.name for p in ring.parent.iterdir() if p.name.startswith(".tmp-")] == []


def test_master_key_never_in_keyring(home: Path) -> None:
    vault = Vault()
    vault.encrypt("x")
    vault.rotate_data_key()
    text = keyring_path().read_text()
    raw = keyring_path().read_bytes()
    assert MASTER not in raw
    assert _b64(MASTER) not in text and _b64(MASTER).rstrip("=") not in text
    assert base64.b64encode(MASTER).decode().rstrip("=") not in text
    assert MASTER.hex() not in text
    ring = json.loads(text)
    assert set(ring) == {"active", "keys"} and ring["active"] in ring["keys"]
    assert set(ring["keys"][ring["active"]]) == {"wrapped", "created_at"}
    assert stat.S_IMODE(keyring_path().stat().st_mode) == 0o600
    assert "material" not in repr(load_master_key()) and str(list(MASTER)) not in repr(load_master_key())


def test_rotate_reencrypt_retire(home: Path) -> None:
    vault = Vault()
    old_token = vault.encrypt("old value", context="c")
    old_id = token_key_id(old_token)
    assert vault.active_key_id() == old_id

    new_id = vault.rotate_data_key()
    assert new_id != old_id and vault.active_key_id() == new_id
    assert vault.decrypt(old_token, context="c") == "old value"  # no downtime
    assert Vault().decrypt(old_token, context="c") == "old value"
    assert token_key_id(vault.encrypt("new value")) == new_id
    assert token_key_id(Vault().encrypt("new value")) == new_id  # other processes see the rotation

    moved = vault.reencrypt(old_token, context="c")
    assert token_key_id(moved) == new_id
    assert vault.decrypt(moved, context="c") == "old value"
    assert vault.reencrypt(moved, context="c") == moved  # already current: unchanged

    with pytest.raises(ConfigError, match="active key"):
        vault.retire(new_id)
    with pytest.raises(NotFound):
        vault.retire("00000000" if old_id != "00000000" else "11111111")
    vault.retire(old_id)
    assert set(json.loads(keyring_path().read_text())["keys"]) == {new_id}
    assert Vault().decrypt(moved, context="c") == "old value"
    for reader in (vault, Vault()):
        with pytest.raises(IntegrityError, match="not in the keyring"):
            reader.decrypt(old_token, context="c")


def test_missing_key_says_how_to_create_one(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = Vault().encrypt("x")  # a keyring now exists, wrapped under the env key
    ring_before = keyring_path().read_bytes()
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match=r"modelyard keys init.*MODELYARD_KEY"):
        Vault().decrypt(token)
    with pytest.raises(ConfigError, match=r"modelyard keys init.*MODELYARD_KEY"):
        Vault().encrypt("y")
    assert keyring_path().read_bytes() == ring_before
    assert not key_file_path().exists()  # never a fresh key for a home that already holds data


def test_first_use_creates_a_private_key_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    token = Vault().encrypt("hello")
    assert stat.S_IMODE(key_file_path().stat().st_mode) == 0o600
    assert Vault().decrypt(token) == "hello"


def test_create_master_key_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    path = create_master_key()
    assert path == key_file_path() == home / "keys" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(path.read_text().strip())) == 32
    original = path.read_bytes()
    with pytest.raises(AlreadyExists):
        create_master_key()
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]

    master = load_master_key()
    assert master.source == f"key file {path}"
    token = Vault().encrypt("via key file")
    assert original not in keyring_path().read_bytes()
    assert Vault().decrypt(token) == "via key file"


def test_key_file_path_override(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    custom = tmp_path / "elsewhere" / "my.key"
    monkeypatch.setenv(KEY_FILE_ENV, str(custom))
    assert create_master_key() == custom
    assert load_master_key().source == f"key file {custom}"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_key_file_readable_by_others_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    path = create_master_key()
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=rf"chmod 600 {path}"):
        load_master_key()
    path.chmod(0o600)
    assert len(load_master_key().material) == 32


@pytest.mark.parametrize("bad", ["short", _b64(b"x" * 16), "!!!not base64!!!"])
def test_malformed_master_key(home: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(KEY_ENV, bad)
    with pytest.raises(ConfigError, match=f"{KEY_ENV} is not urlsafe base64 of 32 bytes") as caught:
        load_master_key()
    assert bad not in str(caught.value)


def test_damaged_keyring(home: Path) -> None:
    Vault().encrypt("x")
    keyring_path().write_text("{not json")
    with pytest.raises(IntegrityError, match="damaged"):
        Vault().encrypt("y")
    assert keyring_path().read_text() == "{not json"
