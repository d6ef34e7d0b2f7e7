"""The label map of a model: label names in output order (classes, or IOB2 tags for NER), single or multi-label."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from modelyard.errors import DataError

LABEL_MAP_FILE = "label_map.json"


@dataclass(frozen=True)
class LabelMap:
    labels: tuple[str, ...]
    multi_label: bool = False

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    def encode(self, label: str | tuple[str, ...]) -> int | list[float]:
        """Class index (single-label) or a multi-hot vector (multi-label)."""
        index = self.label2id
        try:
            if self.multi_label:
                hot = [0.0] * len(self.labels)
                for name in label if isinstance(label, tuple) else (label,):
                    hot[index[name]] = 1.0
                return hot
            return index[label if isinstance(label, str) else label[0]]
        except KeyError as error:
            raise DataError(
                f"label {error.args[0]!r} is not one the model knows ({len(self.labels)} labels: "
                f"{', '.join(self.labels[:10])}{', ...' if len(self.labels) > 10 else ''})"
            ) from None

    def save(self, folder: Path) -> None:
        payload = {"labels": list(self.labels), "multi_label": self.multi_label}
        (folder / LABEL_MAP_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LabelMap:
        payload = json.loads((folder / LABEL_MAP_FILE).read_text(encoding="utf-8"))
        return cls(tuple(payload["labels"]), bool(payload["multi_label"]))


def scores_of(logits: NDArray[np.float32], multi_label: bool) -> NDArray[np.float32]:
    """Sigmoid per label (multi-label) or a numerically stable softmax over the classes."""
    logits = logits.astype(np.float32)
    if multi_label:
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True), dtype=np.float32)
