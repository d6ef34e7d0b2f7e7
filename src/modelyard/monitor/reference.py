"""The reference a model version's traffic is compared with: a sample of its own training data.

Built once per version, lazily, on the monitor's thread: up to ``size`` texts of the
version's dataset version (validation split first, then train and test), their labels, their
lengths, the served model's confidence and predicted label on them (through the
server's batcher, so the forward pass is the one clients get), and their mean-pooled
embeddings from the version's base encoder. Everything stays in memory.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from modelyard import models, registry
from modelyard.monitor.drift import Binned, Reference

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Scorer = Callable[[list[str]], list[tuple[tuple[str, ...], tuple[float, ...]]]]
"""Texts in; per text the predicted label(s) and confidence(s), as the monitor records them."""


class Embedder:
    """Mean-pooled, L2-normalised sentence embeddings from a base encoder (the sentence-transformers recipe)."""

    def __init__(self, spec: str, max_length: int = 128, batch_size: int = 32) -> None:
        import torch
        from transformers import AutoModel

        base = models.resolve(spec)
        self.tokenizer = models.load_tokenizer(base)
        self.model = models.load(AutoModel, base).eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self._torch = torch
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), int(self.model.config.hidden_size)), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in chunk],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                out[chunk] = torch.nn.functional.normalize(pooled, dim=1).float().numpy()
        return out


def sample_texts(version: registry.VersionInfo, size: int, seed: int = 0) -> tuple[list[str], list[Any]]:
    """Up to ``size`` (text, label) pairs of the version's data: validation first, topped up from train, then test."""
    from modelyard.data.versions import folder_of, read_split

    folder = folder_of(version.dataset_hash)
    rng = random.Random(seed)
    picked: list[Any] = []
    for split in ("validation", "train", "test"):
        examples = read_split(folder, split, version.task)
        rng.shuffle(examples)
        picked += examples[: size - len(picked)]
        if len(picked) >= size:
            break
    texts = [str(example.text) for example in picked]
    labels = [getattr(example, "label", None) for example in picked]
    if version.task == "token-classification":
        labels = [tuple(span.label for span in getattr(example, "entities", ())) for example in picked]
    return texts, labels


def _label_fractions(labels: list[str]) -> dict[str, float]:
    counts = Counter(labels)
    total = sum(counts.values())
    return {label: n / total for label, n in counts.items()} if total else {}


def _flat(labels: Sequence[Any]) -> list[str]:
    flat: list[str] = []
    for label in labels:
        if isinstance(label, (tuple, list)):
            flat += [str(x) for x in label]
        elif label is not None:
            flat.append(str(label))
    return flat


class Throttle:
    """Keeps bursts of background work to about ``duty`` of wall time, so served requests keep the CPU.

    Building a reference runs the served model on hundreds of texts; done in one go it made live
    requests wait seconds behind it (p95 2.5 s on 2 cores). In small chunks with pauses the
    batcher interleaves live requests between them.
    """

    def __init__(self, duty: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        self.duty = duty
        self.sleep = sleep

    def run(self, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        if self.duty < 1:
            self.sleep((time.perf_counter() - started) * (1 - self.duty) / self.duty)
        return result

    def chunked(self, work: Callable[[list[str]], list[R]], texts: list[str], size: int) -> list[R]:
        out: list[R] = []
        for start in range(0, len(texts), size):
            out += self.run(functools.partial(work, texts[start : start + size]))
        return out


def build_reference(
    version: registry.VersionInfo,
    *,
    size: int = 500,
    scorer: Scorer | None = None,
    embedder: Callable[[], Embedder | None] | None = None,
    throttle: Throttle | None = None,
) -> Reference:
    """The reference of one version; each part that cannot be built is left out and noted, never fatal."""
    throttle = throttle or Throttle(1.0)
    notes: list[str] = []
    texts, labels = sample_texts(version, size)
    lengths = [len(text) for text in texts]
    label_fractions, source, confidence = _label_fractions(_flat(labels)), "dataset labels", None
    if scorer is not None and texts:
        try:
            scored = throttle.chunked(scorer, texts, 8)
            label_fractions = _label_fractions([label for predicted, _ in scored for label in predicted])
            source = "model predictions"
            confidence = Binned.of([c for _, values in scored for c in values])
        except Exception as error:  # a busy or swapped model: fall back to the data's own labels
            notes.append(f"model not run on the reference sample ({type(error).__name__}); labels from the data")
    embeddings = None
    encoder = embedder() if embedder is not None else None
    if encoder is None:
        notes.append("no base encoder: embedding drift is off")
    elif texts:
        embeddings = np.stack(throttle.chunked(lambda chunk: list(encoder.embed(chunk)), texts, 32))
    return Reference(
        ref=version.ref,
        size=len(texts),
        labels=label_fractions,
        label_source=source,
        confidence=confidence,
        length=Binned.of(lengths),
        length_mean=float(np.mean(lengths)) if lengths else 0.0,
        embeddings=embeddings,
        notes=notes,
    )
