"""Shared fixtures: an isolated modelyard home per test and a tiny labelled data set."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Three banking-style intents, twelve phrasings each: enough to split and to learn in a few steps.
INTENTS = {
    "card_arrival": [
        "when will my new card arrive",
        "my card has not arrived yet",
        "how long does card delivery take",
        "still waiting for my card",
        "where is my card in the mail",
        "card not delivered after two weeks",
        "track the delivery of my card",
        "the card you sent never came",
        "has my card been shipped",
        "expected arrival date of my card",
        "i ordered a card and it is not here",
        "card delivery status please",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is a dollar in euros today",
        "is the exchange rate fair",
        "why was the rate so bad",
        "what rate applies to foreign payments",
        "currency conversion rate please",
        "tell me today's exchange rate",
        "exchange rate for pounds to yen",
        "how do you calculate the rate",
        "where can i see the exchange rates",
        "rate for converting my money",
        "the conversion rate looks wrong",
    ],
    "lost_or_stolen_card": [
        "i lost my card",
        "my card was stolen",
        "someone took my wallet with the card",
        "block my stolen card",
        "i cannot find my card anywhere",
        "report a lost card",
        "freeze my card it is missing",
        "my card got stolen yesterday",
        "what to do if my card is lost",
        "cancel my lost card now",
        "a thief has my card",
        "card missing please block it",
    ],
}


def write_rows(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh MODELYARD_HOME with its own SQLite database."""
    folder = tmp_path / "home"
    monkeypatch.setenv("MODELYARD_HOME", str(folder))
    monkeypatch.delenv("MODELYARD_DB_URL", raising=False)
    yield folder


@pytest.fixture
def tiny_rows() -> list[dict[str, str]]:
    return [{"message": text, "intent": label} for label, texts in INTENTS.items() for text in texts]


@pytest.fixture
def tiny_csv(tmp_path: Path, tiny_rows: list[dict[str, str]]) -> Path:
    return write_rows(tmp_path / "support.csv", tiny_rows)


def recipe_dict(data_file: Path, **training: object) -> dict[str, object]:
    """A recipe that trains the packaged model for a few steps on the tiny data."""
    return {
        "name": "tiny",
        "project": "support",
        "data": {
            "path": str(data_file),
            "text_column": "message",
            "label_column": "intent",
            "validation_fraction": 0.15,
            "test_fraction": 0.2,
        },
        "model": {"base": "minilm-l6", "max_length": 32},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 5e-4, "early_stopping_patience": None, "seed": 7}
        | training,
    }


@contextmanager
def module_home(root: Path) -> Iterator[Path]:
    """A MODELYARD_HOME under ``root`` for a module-scoped fixture (the function-scoped ``home`` cannot
    serve one), with the tiny support CSV written beside it; yields the CSV's path."""
    rows = [{"message": t, "intent": label} for label, texts in INTENTS.items() for t in texts]
    data = write_rows(root / "support.csv", rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELYARD_HOME", str(root / "home"))
        patch.delenv("MODELYARD_DB_URL", raising=False)
        yield data


# Tiny NER data: people, organisations and places in a few sentence patterns (IOB2 word tags).
NER_PEOPLE = [["Anna", "Schmidt"], ["John", "Miller"], ["Maria", "Rossi"], ["Kenji", "Sato"], ["Peter"], ["Laura"]]
NER_ORGS = [["Siemens"], ["Acme", "Bank"], ["Globex"], ["Red", "Cross"], ["Initech"]]
NER_PLACES = [["Paris"], ["Berlin"], ["New", "York"], ["Tokyo"], ["Madrid"]]
NER_PATTERNS = [
    ["{PER}", "works", "for", "{ORG}", "in", "{LOC}", "."],
    ["{ORG}", "opened", "an", "office", "in", "{LOC}", "."],
    ["Yesterday", "{PER}", "flew", "to", "{LOC}", "."],
    ["{PER}", "met", "{PER}", "at", "{ORG}", "."],
    ["The", "weather", "was", "fine", "."],
]


def ner_sentences(count: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """``count`` sentences of (word, IOB2 tag) pairs drawn from the patterns above."""
    import random

    rng = random.Random(seed)
    pools = {"PER": NER_PEOPLE, "ORG": NER_ORGS, "LOC": NER_PLACES}
    sentences = []
    for i in range(count):
        sentence: list[tuple[str, str]] = []
        for slot in NER_PATTERNS[i % len(NER_PATTERNS)]:
            if slot.startswith("{"):
                kind = slot[1:-1]
                words = rng.choice(pools[kind])
                sentence += [(word, f"{'B' if j == 0 else 'I'}-{kind}") for j, word in enumerate(words)]
            else:
                sentence.append((slot, "O"))
        sentences.append(sentence)
    return sentences


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences:
        lines += [f"{word} NNP B-NP {tag}" for word, tag in sentence] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def ner_recipe_dict(data_file: Path, name: str = "ner", **training: object) -> dict[str, object]:
    """A recipe that trains NER on the tiny CoNLL file for a few steps."""
    return {
        "name": name,
        "project": "support",
        "task": "token-classification",
        "data": {"path": str(data_file), "validation_fraction": 0.15, "test_fraction": 0.15},
        "model": {"base": "minilm-l6", "max_length": 32},
        "training": {"epochs": 4, "batch_size": 8, "learning_rate": 1e-3, "early_stopping_patience": None, "seed": 7}
        | training,
    }
