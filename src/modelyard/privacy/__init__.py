"""Private by default: PII detection and scrubbing, encryption at rest, differentially private training.

``default_detector`` is what every data path uses: the pattern recognizers, plus
the NER name recognizer when a name model is installed (see ``privacy.names``).
"""

from __future__ import annotations

from collections.abc import Collection

from modelyard.privacy.detect import NAME_TYPES, Detector, Recognizer, pattern_recognizers


def default_detector(*, names: bool = True, types: Collection[str] | None = None, min_score: float = 0.5) -> Detector:
    """Pattern recognizers, and names when ``names`` is set and a name model is installed."""
    recognizers: list[Recognizer] = list(pattern_recognizers())
    wants_names = types is None or any(t in NAME_TYPES for t in types)
    if names and wants_names:
        from modelyard.privacy import names as name_model

        found = name_model.recognizer()
        if found is not None:
            recognizers.append(found)
    return Detector(recognizers, types=types, min_score=min_score)


__all__ = ["default_detector"]
