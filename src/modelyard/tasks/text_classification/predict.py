"""Batched inference with a trained text classifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import AutoTokenizer

from modelyard.tasks.text_classification.config import LabelMap
from modelyard.tasks.text_classification.head import load_trained


@dataclass(frozen=True)
class Scored:
    label: str
    probability: float


class Predictor:
    """Loads a model version's folder once; scores texts in length-sorted batches."""

    def __init__(self, folder: Path, max_length: int = 128) -> None:
        self.label_map = LabelMap.load(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = load_trained(folder)
        self.max_length = max_length

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Class probabilities (softmax, or sigmoid per label for multi-label), in input order."""
        # Sorting by length keeps padding per batch small; results are put back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), len(self.label_map.labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            logits = self.model(**batch).logits.float()
            scores = torch.sigmoid(logits) if self.label_map.multi_label else torch.softmax(logits, dim=-1)
            out[chunk] = scores.numpy()
        return out

    def predict(self, texts: list[str], top_k: int = 3, batch_size: int = 64) -> list[list[Scored]]:
        """The ``top_k`` labels with their probabilities for each text."""
        probs = self.probabilities(texts, batch_size)
        return [top_labels(row, self.label_map.labels, top_k) for row in probs]


def top_labels(row: NDArray[Any], labels: tuple[str, ...], top_k: int) -> list[Scored]:
    best = np.argsort(-row)[: max(1, top_k)]
    return [Scored(labels[i], round(float(row[i]), 6)) for i in best]
