"""Baseline for pii: Microsoft Presidio's analyzer over the same sentences, run in its own venv.

Runs under ``benchmarks/.venv-presidio/bin/python`` (made by ``benchmarks/pii.py``;
presidio-analyzer and spaCy stay out of the project's pins). No trained spaCy model
can be downloaded here, so the NLP engine is ``spacy.blank("en")`` saved to a folder:
the pattern recognizers (email, phone, card, IBAN, SSN, IP, URL, date) work as
usual, and the spaCy NER recognizer finds no PERSON/LOCATION/ORGANIZATION at all.
tldextract (used by the email and URL recognizers) is kept offline: no suffix-list
URLs, so it uses the snapshot it ships instead of trying to download one.

Reads ``{"texts": [...], "entities": [...], "score_threshold": float}`` from
``--input`` and writes ``{"findings": [[{"type", "start", "end", "score",
"recognizer"}]], "seconds", "versions"}`` to ``--output``; ``seconds`` covers the
analysis of all texts after one warm-up call, not the engine start-up.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # before tldextract is imported


def blank_model(folder: Path) -> Path:
    import spacy

    if not (folder / "config.cfg").is_file():
        spacy.blank("en").to_disk(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--spacy-model", required=True, help="folder for the blank English pipeline (made if missing)")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    job = json.loads(Path(args.input).read_text(encoding="utf-8"))
    model = blank_model(Path(args.spacy_model))
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model)}]}
    )
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    threshold = float(job.get("score_threshold", 0.0))
    entities = job["entities"]

    def analyze(text: str) -> list[dict[str, object]]:
        results = engine.analyze(text=text, language="en", entities=entities, score_threshold=threshold)
        return [
            {
                "type": r.entity_type,
                "start": r.start,
                "end": r.end,
                "score": round(r.score, 4),
                "recognizer": (r.recognition_metadata or {}).get("recognizer_name"),
            }
            for r in results
        ]

    analyze("Warm-up: call 212-555-0199 or mail jane@example.com.")
    start = time.perf_counter()
    findings = [analyze(text) for text in job["texts"]]
    seconds = time.perf_counter() - start
    versions = {name: metadata.version(name) for name in ("presidio-analyzer", "spacy", "phonenumbers", "tldextract")}
    Path(args.output).write_text(
        json.dumps({"findings": findings, "seconds": seconds, "versions": versions}), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
