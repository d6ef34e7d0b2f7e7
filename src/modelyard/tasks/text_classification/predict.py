"""Batched inference with a trained text classifier.

The forward pass is a function of numpy inputs, so the same predictor runs the
version's own torch model or an adapter on a shared base (``adapters.SharedBase``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from modelyard.tasks.heads import load_tokenizer
from modelyard.tasks.labels import LabelMap, scores_of

Forward = Callable[[dict[str, NDArray[np.int64]]], NDArray[np.float32]]


@dataclass(frozen=True)
class Scored:
    label: str
    probability: float


class Predictor:
    """Loads a model version's folder once; scores texts in length-sorted batches."""

    def __init__(self, folder: Path, max_length: int = 128, *, forward: Forward | None = None) -> None:
        self.label_map = LabelMap.load(folder)
        self.tokenizer = load_tokenizer(folder)
        self.max_length = max_length
        if forward is None:
            from modelyard.tasks.heads import load_trained

            self.model = load_trained(folder)
            forward = self._torch_forward
        self.forward = forward

    @torch.inference_mode()
    def _torch_forward(self, inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        logits = self.model(**{name: torch.from_numpy(value) for name, value in inputs.items()}).logits
        return np.asarray(logits.float().numpy(), dtype=np.float32)

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
                return_tensors="np",
            )
            inputs = {name: np.asarray(value, dtype=np.int64) for name, value in batch.items()}
            out[chunk] = scores_of(self.forward(inputs), self.label_map.multi_label)
        return out

    def predict(self, texts: list[str], top_k: int = 3, batch_size: int = 64) -> list[list[Scored]]:
        """The ``top_k`` labels with their probabilities for each text."""
        probs = self.probabilities(texts, batch_size)
        return [top_labels(row, self.label_map.labels, top_k) for row in probs]

    def serve(self, texts: list[str]) -> NDArray[np.float32]:
        """What the server's batcher runs: one row of probabilities per text."""
        return self.probabilities(texts)


def top_labels(row: NDArray[Any], labels: tuple[str, ...], top_k: int) -> list[Scored]:
    best = np.argsort(-row)[: max(1, top_k)]
    return [Scored(labels[i], round(float(row[i]), 6)) for i in best]
