"""Private by default: PII scrubbed at import, stored splits encrypted, keys rotated, nothing planted leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import INTENTS, recipe_dict, write_rows
from typer.testing import CliRunner

from modelyard import access, registry
from modelyard import train as training
from modelyard.cli import app
from modelyard.config import DataSpec, PiiSpec, parse_recipe
from modelyard.data.versions import import_data, load_splits
from modelyard.errors import ConfigError
from modelyard.privacy import crypto
from modelyard.privacy.rotation import rotate_data_key
from modelyard.serve import ServeConfig, create_app

runner = CliRunner()

# Strings that must never be found on disk in clear text once imported or sent to the server.
PLANTED = {
    "EMAIL": "grace.hopper@navy-example.org",
    "CREDIT_CARD": "4539 1488 0343 6467",
    "PHONE": "(212) 555-0147",
    "US_SSN": "078-05-1120",
    "IBAN": "GB82 WEST 1234 5698 7654 32",
}


def planted_rows() -> list[dict[str, str]]:
    """The tiny support data with PII planted into a third of the messages."""
    rows = []
    values = list(PLANTED.values())
    for label, texts in INTENTS.items():
        for i, text in enumerate(texts):
            message = f"{text}, reach me at {values[len(rows) % len(values)]}" if i % 3 == 0 else text
            rows.append({"message": message, "intent": label})
    return rows


def _spec(path: Path, **pii: object) -> DataSpec:
    return DataSpec(path=path, text_column="message", label_column="intent", pii=PiiSpec(**pii))  # type: ignore[arg-type]


def _leaks(root: Path, needles: list[str]) -> list[str]:
    """Every (file, needle) where a needle's bytes occur under ``root`` (UTF-8 and UTF-16 spellings)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                variants = {needle.encode(), needle.encode("utf-16-le"), json.dumps(needle).encode()}
                if any(v in data for v in variants):
                    found.append(f"{path.relative_to(root)}: {needle}")
    return found


def test_import_scrubs_and_encrypts(home: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    version = import_data(_spec(data), project="support")
    pii = version.report["pii"]
    assert pii["scrubbed"] and pii["operator"] == "replace"
    for kind in PLANTED:
        assert pii["findings"].get(kind, 0) >= 1, pii
    texts = [e.text for rows in load_splits(version).values() for e in rows]
    assert any("<EMAIL>" in t for t in texts) and any("<CREDIT_CARD>" in t for t in texts)
    assert not _leaks(home, list(PLANTED.values()))
    # At rest the splits are ciphertext: not even the scrubbed texts are readable.
    train_file = version.folder / "train.jsonl"
    assert crypto.is_sealed(train_file.read_bytes())
    assert b"card" not in train_file.read_bytes()
    assert not any(value in json.dumps(version.report) for value in PLANTED.values())


def test_opt_out_is_recorded_and_is_another_version(home: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    scrubbed = import_data(_spec(data), project="support")
    kept = import_data(_spec(data, scrub=False), project="support")
    assert kept.report["pii"]["scrubbed"] is False
    assert kept.content_hash != scrubbed.content_hash
    assert any(PLANTED["EMAIL"] in e.text for e in load_splits(kept)["train"] + load_splits(kept)["test"])


def test_hash_operator_keeps_duplicates_joinable(home: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    version = import_data(_spec(data, operator="hash"), project="support")
    tokens = [t for rows in load_splits(version).values() for e in rows for t in e.text.split() if "<EMAIL_" in t]
    assert len(tokens) >= 2 and len(set(tokens)) == 1  # one address, one pseudonym everywhere
    other = import_data(_spec(data, operator="hash"), project="billing")
    other_tokens = {t for e in load_splits(other)["train"] for t in e.text.split() if "<EMAIL_" in t}
    assert other_tokens.isdisjoint(tokens)  # another project's salt: tokens cannot be joined across


def test_wrong_or_missing_key_is_clear_and_destroys_nothing(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    version = import_data(_spec(data), project="support")
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json", ".key")}
    key_file = crypto.key_file_path()
    saved = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(ConfigError, match="no master key"):
        load_splits(version)
    monkeypatch.setenv(crypto.KEY_ENV, "A" * 43 + "=")  # a valid key, but not this home's
    with pytest.raises(ConfigError, match="does not match"):
        load_splits(version)
    monkeypatch.delenv(crypto.KEY_ENV)
    crypto.atomic_write(key_file, saved)
    for path, content in before.items():
        if path != key_file:
            assert path.read_bytes() == content
    assert load_splits(version)["train"]


def test_rotate_data_key_reencrypts_and_retires(home: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    version = import_data(_spec(data), project="support")
    before = load_splits(version)
    old_key = crypto.sealed_key_id(version.folder / "train.jsonl")
    report = rotate_data_key()
    assert report.reencrypted >= 3 and report.retired == [old_key] and not report.kept
    assert crypto.sealed_key_id(version.folder / "train.jsonl") == report.new_key
    assert crypto.Vault().key_ids() == [report.new_key]
    assert load_splits(version) == before


def test_cli_scan_and_redact(home: Path, tmp_path: Path) -> None:
    data = write_rows(tmp_path / "support.csv", planted_rows())
    scanned = runner.invoke(app, ["privacy", "scan", str(data)])
    assert scanned.exit_code == 0, scanned.output
    assert "EMAIL" in scanned.output and "rows hold personal data" in scanned.output
    assert not any(value in scanned.output for value in PLANTED.values())

    output = tmp_path / "clean.csv"
    redacted = runner.invoke(app, ["privacy", "redact", str(data), "-o", str(output), "--column", "message"])
    assert redacted.exit_code == 0, redacted.output
    clean = output.read_text(encoding="utf-8")
    assert "<EMAIL>" in clean and not any(value in clean for value in PLANTED.values())
    assert clean.count("\n") == data.read_text(encoding="utf-8").count("\n")

    same = runner.invoke(app, ["privacy", "redact", str(data), "-o", str(data)])
    assert same.exit_code != 0 and "must not overwrite its source" in same.output
    unknown = runner.invoke(app, ["privacy", "scan", str(data), "--type", "SHOE_SIZE"])
    assert unknown.exit_code != 0 and "SHOE_SIZE" in unknown.output


def test_planted_pii_never_reaches_the_disk(home: Path, tmp_path: Path) -> None:
    """Import, train, register, serve traffic and feedback: then search every byte under the home (and its database)."""
    data = write_rows(tmp_path / "support.csv", planted_rows())
    training.run(parse_recipe(recipe_dict(data, epochs=1, max_steps=4)))
    registry.promote("tiny:1", "production")
    key = access.create("client", ["support"]).key
    with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
        for value in PLANTED.values():
            response = client.post(
                "/v1/models/tiny/predict",
                json={"text": f"my card is lost, call me on {value}"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert response.status_code == 200, response.text
            given = client.post(
                "/v1/feedback",
                json={
                    "prediction_id": response.json()["predictions"][0]["id"],
                    "correct_label": "lost_or_stolen_card",
                    "comment": f"wrong! my details: {value}",
                },
                headers={"Authorization": f"Bearer {key}"},
            )
            assert given.status_code == 201, given.text
    assert _leaks(home, list(PLANTED.values())) == []
