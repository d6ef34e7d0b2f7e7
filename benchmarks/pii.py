"""PII detection on sentences made from presidio-evaluator's templates, beside Microsoft Presidio.

Bars (issue 5): every pattern type recall >= 0.95 and precision >= 0.90; PERSON
recall >= 0.85. The pattern types are ``modelyard.privacy.detect.PATTERN_TYPES``,
ADDRESS included (``*_excluding_address`` give the eight fixed-format types alone).
The set is ``pii_data.generate(n, seed)`` (2,000 sentences by default, support per
type recorded). Our detector is ``modelyard.privacy.default_detector(names=not
--no-names)``; its name model is the registered ``pii-names`` of the modelyard home
(or ``$MODELYARD_NAMES_MODEL``), so this benchmark runs in the user's home, not an
isolated one; ``names_available`` says whether a name recognizer was loaded (when
``default_detector`` is not importable: ``Detector(pattern_recognizers())``).
Presidio's analyzer (presidio-analyzer 2.2.366 in ``benchmarks/.venv-presidio``,
made on first use, blank spaCy pipeline, its default score threshold 0) runs on the
same sentences in a subprocess, ``baselines/presidio_worker.py``.

Overlaps: our ``Detector`` returns non-overlapping findings (higher score wins,
then the longer); Presidio's analyzer returns overlapping ones (a URL inside an
e-mail address) and leaves their resolution to its anonymizer, so its findings go
through the same ``resolve_overlaps`` before scoring.

Matching rule, the same for both systems, per type and per sentence (types mapped
to ours):

* a gold span is found when predicted spans of its type cover at least half of its
  characters (so "Mr. John Smith" for "John Smith", or an address found line by
  line, count; "John" alone for "John Smith" does not);
* a predicted span is correct when at least half of its characters lie inside gold
  spans of its type; otherwise it is a false positive, except that it is left out
  (neither) when at least half of it lies on a filled placeholder that carries no
  label of ours but where that type is a fair guess (a ``date_time``/``year``/
  ``day_of_week`` for DATE_OF_BIRTH, a lone ``zipcode``/``postcode``/``state_abbr``
  for ADDRESS or LOCATION, a title for PERSON): see :data:`NEUTRAL`;
* precision = correct / (correct + false positives), ``null`` when a type was never
  predicted (and then skipped by the minima); recall = found / support;
  ``exact_recall`` counts gold spans predicted with exactly their boundaries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pii_data
from _common import ROOT, write_result

PRESIDIO_PIN = "presidio-analyzer==2.2.366"
PRESIDIO_VENV = ROOT / "benchmarks" / ".venv-presidio"
PRESIDIO_WORKER = ROOT / "benchmarks" / "baselines" / "presidio_worker.py"
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "URL": "URL",
    "DATE_TIME": "DATE_OF_BIRTH",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "ORGANIZATION": "ORGANIZATION",
}  # NRP (nationality, religion, politics) and Presidio's other types have no type of ours: not asked for.
PRESIDIO_NOTE = (
    "Presidio's analyzer with a blank spaCy pipeline (spacy.blank('en'); no trained spaCy model can be "
    "downloaded here): only its pattern recognizers work, so it finds no PERSON, LOCATION or ORGANIZATION "
    "and has no ADDRESS recognizer; DATE_TIME is scored as DATE_OF_BIRTH. Default score threshold (0)."
)
NEUTRAL: dict[str, set[str]] = {
    "DATE_OF_BIRTH": {"date_time", "year", "day_of_week"},
    "ADDRESS": {"zipcode", "postcode", "state_abbr"},
    "LOCATION": {"zipcode", "postcode", "state_abbr"},
    "PERSON": {"prefix", "prefix_male", "prefix_female"},
}
BAR = {"pattern_recall_min": 0.95, "pattern_precision_min": 0.90, "person_recall": 0.85}
N_EXAMPLES = 3

Span = tuple[str, int, int]
"""(type, start, end)"""


# ---------------------------------------------------------------- scoring


def _chars(spans: Sequence[tuple[int, int]]) -> set[int]:
    return {i for start, end in spans for i in range(start, end)}


def _context(text: str, start: int, end: int, width: int = 50) -> str:
    """The span with up to ``width`` characters either side, for the examples."""
    left, right = max(0, start - width), min(len(text), end + width)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


def score(sentences: list[dict[str, Any]], predicted: list[list[Span]], labels: Sequence[str]) -> dict[str, Any]:
    """Per type precision, recall, support under the coverage rule of the module docstring, and example errors."""
    counts: dict[str, Counter[str]] = {label: Counter() for label in labels}
    examples: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"missed": [], "false_positive": []})
    other: Counter[str] = Counter()
    for sentence, spans in zip(sentences, predicted, strict=True):
        text = sentence["text"]
        other.update(kind for kind, _, _ in spans if kind not in counts)
        for label in labels:
            gold = [(s["start"], s["end"]) for s in sentence["entities"] if s["label"] == label]
            pred = [(start, end) for kind, start, end in spans if kind == label]
            neutral = _chars(
                [(u["start"], u["end"]) for u in sentence["unlabelled"] if u["placeholder"] in NEUTRAL.get(label, ())]
            )
            gold_chars, pred_chars = _chars(gold), _chars(pred)
            tally = counts[label]
            for start, end in gold:
                tally["support"] += 1
                if 2 * len(pred_chars & set(range(start, end))) >= end - start:
                    tally["found"] += 1
                elif len(examples[label]["missed"]) < N_EXAMPLES:
                    got = [f"{kind} {text[s:e]!r}" for kind, s, e in spans if s < end and start < e]
                    examples[label]["missed"].append(
                        f"{text[start:end]!r} in {_context(text, start, end)!r}; predicted there: {got}"
                    )
                tally["exact"] += (start, end) in pred
            for start, end in pred:
                span = set(range(start, end))
                if 2 * len(gold_chars & span) >= end - start:
                    tally["correct"] += 1
                elif 2 * len((gold_chars | neutral) & span) >= end - start:
                    tally["neutral"] += 1
                else:
                    tally["false_positive"] += 1
                    if len(examples[label]["false_positive"]) < N_EXAMPLES:
                        examples[label]["false_positive"].append(
                            f"{text[start:end]!r} in {_context(text, start, end)!r}"
                        )
    per_type = {}
    for label, tally in counts.items():
        judged = tally["correct"] + tally["false_positive"]
        per_type[label] = {
            "precision": round(tally["correct"] / judged, 4) if judged else None,
            "recall": round(tally["found"] / tally["support"], 4) if tally["support"] else None,
            "support": tally["support"],
            "predicted": judged,
            "false_positives": tally["false_positive"],
            "left_out_on_unlabelled": tally["neutral"],
            "exact_recall": round(tally["exact"] / tally["support"], 4) if tally["support"] else None,
        }
    return {"per_type": per_type, "examples": dict(examples), "other_types": dict(other)}


def _lowest(per_type: dict[str, Any], types: Sequence[str], key: str) -> float | None:
    values = [per_type[t][key] for t in types if per_type[t][key] is not None]
    return min(values) if values else None


def summary(scored: dict[str, Any], pattern_types: Sequence[str]) -> dict[str, Any]:
    per_type = scored["per_type"]
    fixed = [t for t in pattern_types if t != "ADDRESS"]
    return {
        "per_type": per_type,
        "pattern_recall_min": _lowest(per_type, pattern_types, "recall"),
        "pattern_precision_min": _lowest(per_type, pattern_types, "precision"),
        "person_recall": per_type["PERSON"]["recall"],
        "pattern_recall_min_excluding_address": _lowest(per_type, fixed, "recall"),
        "pattern_precision_min_excluding_address": _lowest(per_type, fixed, "precision"),
    }


def meets(figures: dict[str, Any]) -> dict[str, bool]:
    return {key: figures[key] is not None and figures[key] >= bar for key, bar in BAR.items()}


# ---------------------------------------------------------------- our detector


def our_detector(names: bool) -> tuple[Any, str, tuple[str, ...]]:
    """(detector, how it was built, pattern types)."""
    from modelyard.privacy.detect import PATTERN_TYPES, Detector, pattern_recognizers

    pattern_types = tuple(t for t in PATTERN_TYPES if t in pii_data.LABELS)
    try:
        from modelyard.privacy import default_detector
    except ImportError as exc:
        print(f"modelyard.privacy.default_detector not importable ({exc}); patterns only", file=sys.stderr)
        return Detector(pattern_recognizers()), "Detector(pattern_recognizers())", pattern_types
    return default_detector(names=names), f"default_detector(names={names})", pattern_types


def names_model() -> str | None:
    """The name model folder ``default_detector`` loads, if any."""
    try:
        from modelyard.privacy import names

        folder = names.model_folder()
    except Exception as exc:  # reported, not fatal: the pattern figures still stand
        return f"unavailable: {exc}"
    return None if folder is None else str(folder)


def run_ours(detector: Any, texts: list[str]) -> tuple[list[list[Span]], float]:
    detector.find_many(texts[:8])  # warm-up: loads the name model, if any
    start = time.perf_counter()
    findings = detector.find_many(texts)
    seconds = time.perf_counter() - start
    return [[(f.type, f.start, f.end) for f in found] for found in findings], seconds


# ---------------------------------------------------------------- Presidio


def _run(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise SystemExit(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result


def presidio_python() -> Path:
    """The venv's interpreter, with presidio-analyzer at the pin; made (pip install) on first use."""
    python = PRESIDIO_VENV / "bin" / "python"
    package, version = PRESIDIO_PIN.split("==")
    probe = f"from importlib.metadata import version; print(version({package!r}))"
    if python.is_file():
        found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == version:
            return python
    print(f"installing {PRESIDIO_PIN} into {PRESIDIO_VENV} ...", file=sys.stderr, flush=True)
    _run([sys.executable, "-m", "venv", str(PRESIDIO_VENV)], "python -m venv")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PRESIDIO_PIN],
        f"pip install {PRESIDIO_PIN}",
        timeout=1800,
    )
    return python


def run_presidio(texts: list[str]) -> tuple[list[list[Span]], float, dict[str, str]]:
    from modelyard.privacy.detect import Finding, resolve_overlaps

    python = presidio_python()
    with tempfile.TemporaryDirectory(prefix="pii-presidio-") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "findings.json"
        job.write_text(json.dumps({"texts": texts, "entities": sorted(PRESIDIO_TYPES), "score_threshold": 0.0}))
        command = [str(python), str(PRESIDIO_WORKER), "--input", str(job), "--output", str(out)]
        command += ["--spacy-model", str(PRESIDIO_VENV / "spacy-blank-en")]
        env = os.environ | {"TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
        _run(command, "presidio_worker.py", env=env, timeout=3600)
        result = json.loads(out.read_text(encoding="utf-8"))
    spans = []
    for found in result["findings"]:
        findings = [Finding(PRESIDIO_TYPES[f["type"]], f["start"], f["end"], f["score"], "presidio") for f in found]
        spans.append([(f.type, f.start, f.end) for f in resolve_overlaps(findings)])
    return spans, result["seconds"], result["versions"]


# ---------------------------------------------------------------- main


def _timing(n: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 3), "sentences_per_second": round(n / seconds, 1) if seconds else float("inf")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="sentences to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=pii_data.SEED)
    parser.add_argument("--no-names", action="store_true", help="pattern recognizers only (no NER name model)")
    parser.add_argument("--skip-presidio", action="store_true", help="development runs: our detector only")
    args = parser.parse_args()
    os.environ.setdefault("MODELYARD_CACHE", str(Path.home() / ".modelyard" / "cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()

    sentences = pii_data.generate(args.n, args.seed)
    texts = [s["text"] for s in sentences]
    labels = pii_data.LABELS
    detector, built, pattern_types = our_detector(names=not args.no_names)
    names_available = any("PERSON" in r.types for r in detector.recognizers)
    ours_spans, ours_seconds = run_ours(detector, texts)
    ours = score(sentences, ours_spans, labels)
    ours_figures = summary(ours, pattern_types)

    presidio: dict[str, Any] | None = None
    if not args.skip_presidio:
        presidio_spans, presidio_seconds, versions = run_presidio(texts)
        presidio_scored = score(sentences, presidio_spans, labels)
        presidio = (
            summary(presidio_scored, pattern_types)
            | _timing(len(texts), presidio_seconds)
            | {"meets_bar": meets(summary(presidio_scored, pattern_types))}
            | {"versions": versions, "entities": PRESIDIO_TYPES, "score_threshold": 0.0, "note": PRESIDIO_NOTE}
            | {"examples": presidio_scored["examples"]}
        )

    sources = Counter(s["source"] for s in sentences)
    write_result(
        "pii",
        ours_figures
        | {
            "pattern_types": list(pattern_types),
            "names_available": names_available,
            "names_model": names_model() if names_available else None,
            "detector": built,
            **_timing(len(texts), ours_seconds),
            "bar": BAR,
            "meets_bar": meets(ours_figures),
            "other_types_predicted": ours["other_types"],
            "examples": ours["examples"],
            "presidio": presidio,
            "data": {
                "n_sentences": len(sentences),
                "seed": args.seed,
                "archive": pii_data.ARCHIVE,
                "sha256": pii_data.SHA256,
                "from_presidio_templates": sources["presidio"],
                "from_extra_templates": sources["extra"],
                "support": pii_data.support(sentences),
            },
            "matching": "coverage >= 0.5 both ways, per type; see the docstring of benchmarks/pii.py",
            "load_average_at_start": [round(x, 2) for x in load_before],
        },
    )


if __name__ == "__main__":
    main()
