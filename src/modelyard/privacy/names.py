"""Person, location and organisation names, found by a modelyard NER model.

The name detector is our own product: a LoRA adapter on the packaged default
encoder, trained on CoNLL-2003 with ``configs/pii_names.yaml`` and registered as
the model ``pii-names`` (``modelyard train configs/pii_names.yaml``). Its adapter
is a few hundred KB; the base weights come from the packaged model. Point
``$MODELYARD_NAMES_MODEL`` at a version folder or a ``name[:version]`` to use
another one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelyard.errors import NotFound
from modelyard.privacy.detect import Finding
from modelyard.tasks.token_classification.tags import split_words

NAMES_MODEL = "pii-names"
NAMES_MODEL_ENV = "MODELYARD_NAMES_MODEL"
# CoNLL's entity types → ours; MISC (nationalities, events…) is not personal data.
TYPE_OF = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION"}


class NameRecognizer:
    """Wraps a token-classification predictor; batches texts in ``find_many``.

    Decoding favours recall, which is what scrubbing needs: a word is part of a name
    when its B- and I- probabilities for that type add up to ``threshold`` (not only
    when the type is the argmax), and a run of such words is one name unless a word
    is likelier to begin a new one. A finding's score is the mean of those sums mapped
    linearly from [threshold, 1] onto [0.5, 1], so the detector's default ``min_score``
    of 0.5 keeps exactly what this decoding found.
    """

    name = "names-ner"
    types = frozenset(TYPE_OF.values())

    def __init__(self, predictor: Any, threshold: float = 0.3) -> None:
        self.predictor = predictor
        self.threshold = threshold
        labels = list(predictor.label_map.labels)
        self._columns = {
            kind: (labels.index(f"B-{kind}"), labels.index(f"I-{kind}"))
            for kind in TYPE_OF
            if f"B-{kind}" in labels and f"I-{kind}" in labels
        }

    def find(self, text: str) -> list[Finding]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        found: list[list[Finding]] = [[] for _ in texts]
        # The tokenizer rejects empty word lists; such texts simply have no names.
        nonempty = [i for i, text in enumerate(texts) if text.strip()]
        words = {i: split_words(texts[i]) for i in nonempty}
        matrices = self.predictor.text_word_probabilities([[texts[i][s:e] for s, e in words[i]] for i in nonempty])
        for i, matrix in zip(nonempty, matrices, strict=True):
            found[i] = self._decode(words[i], matrix)
        return found

    def _decode(self, words: list[tuple[int, int]], matrix: NDArray[np.float32]) -> list[Finding]:
        findings: list[Finding] = []
        current: tuple[str, int, int, list[float]] | None = None  # type, start, end, word scores
        for (start, end), row in zip(words, matrix, strict=True):
            kind, begin, inside = None, 0.0, 0.0
            for candidate, (b, i) in self._columns.items():
                if row[b] + row[i] >= self.threshold and row[b] + row[i] > begin + inside:
                    kind, begin, inside = candidate, float(row[b]), float(row[i])
            continues = current is not None and kind == current[0] and inside >= begin
            if current is not None and not continues:
                findings.append(self._finding(current))
                current = None
            if kind is not None:
                if current is None:
                    current = (kind, start, end, [begin + inside])
                else:
                    current = (kind, current[1], end, [*current[3], begin + inside])
        if current is not None:
            findings.append(self._finding(current))
        return findings

    def _finding(self, run: tuple[str, int, int, list[float]]) -> Finding:
        kind, start, end, scores = run
        mean = min(1.0, sum(scores) / len(scores))
        score = 0.5 + 0.5 * (mean - self.threshold) / (1.0 - self.threshold)
        return Finding(TYPE_OF[kind], start, end, round(score, 6), self.name)


def model_folder() -> Path | None:
    """The name model's version folder: ``$MODELYARD_NAMES_MODEL``, else the registered ``pii-names``."""
    from modelyard import registry

    chosen = os.environ.get(NAMES_MODEL_ENV)
    if chosen and Path(chosen).is_dir():
        return Path(chosen)
    try:
        return registry.get(chosen or NAMES_MODEL).path
    except NotFound:
        if chosen:
            raise NotFound(
                f"{NAMES_MODEL_ENV}={chosen!r} is neither a folder nor a registered model; "
                f"unset it or train one with `modelyard train configs/pii_names.yaml`"
            ) from None
        return None


@lru_cache(maxsize=4)
def _recognizer(folder: Path) -> NameRecognizer:
    from modelyard.artifacts import verify_manifest
    from modelyard.tasks.token_classification.predict import TokenPredictor

    verify_manifest(folder)
    return NameRecognizer(TokenPredictor(folder, max_length=128))


def recognizer() -> NameRecognizer | None:
    """The name recognizer, loaded once per process; ``None`` when no name model is installed."""
    folder = model_folder()
    return None if folder is None else _recognizer(folder)
