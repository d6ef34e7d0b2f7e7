"""Sliding windows over a model's served requests and the statistics of one window.

A ``Record`` is one predict request as the monitor keeps it: time, latency, outcome,
and per text the predicted label(s), the confidence and the input length — never
the text. The embedding of each text (for the drift test) is attached later by the
monitor's thread; the text itself is dropped as soon as it is embedded.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelyard.monitor.drift import Reference, label_psi
from modelyard.monitor.rules import Window

LOW_CONFIDENCE = 0.5


@dataclass
class Record:
    at: float
    latency_ms: float
    status: int
    texts: int
    labels: tuple[str, ...] = ()
    """Top-1 label per text (classification) or the type of every entity found (NER)."""
    confidences: tuple[float, ...] = ()
    lengths: tuple[int, ...] = ()
    embeddings: list[NDArray[np.float32]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status >= 400


class History:
    """The recent records of one model version, bounded by count and age."""

    def __init__(self, max_records: int = 10_000, max_seconds: float = 86_400) -> None:
        self.records: deque[Record] = deque(maxlen=max_records)
        self.max_seconds = max_seconds
        self.count = 0
        """Requests seen since this version started being monitored (the position in its stream)."""
        self.started = time.time()

    def add(self, record: Record) -> None:
        self.records.append(record)
        self.count += 1
        horizon = record.at - self.max_seconds
        while self.records and self.records[0].at < horizon:
            self.records.popleft()

    def select(self, window: Window, now: float | None = None) -> list[Record] | None:
        """The window's records; ``None`` while a requests window is not full yet."""
        if window.requests is not None:
            if len(self.records) < window.requests:
                return None
            return list(self.records)[-window.requests :]
        assert window.seconds is not None
        since = (now if now is not None else time.time()) - window.seconds
        return [r for r in self.records if r.at >= since]

    def covers(self, window: Window, now: float | None = None) -> bool:
        """Whether this version has been watched for the whole seconds window (volume rules wait for it)."""
        if window.seconds is None:
            return True
        return (now if now is not None else time.time()) - self.started >= window.seconds


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def window_stats(
    records: list[Record], window: Window, reference: Reference | None, *, now: float | None = None
) -> dict[str, Any]:
    """Every metric of one window (``None`` where it cannot be computed), plus distributions for display."""
    now = now if now is not None else time.time()
    served = [r for r in records if not r.failed]
    labels = [label for r in served for label in r.labels]
    confidences = [c for r in served for c in r.confidences]
    lengths = [n for r in records for n in r.lengths]
    latencies = [r.latency_ms for r in records]
    span = window.seconds if window.seconds is not None else (max(now - records[0].at, 1e-3) if records else 0.0)
    stats: dict[str, Any] = {
        "window": window.key,
        "requests": len(records),
        "texts": sum(r.texts for r in records),
        "errors": len(records) - len(served),
        "error_rate": _round(1 - len(served) / len(records)) if records else None,
        "requests_per_second": _round(len(records) / span) if span else None,
        "latency_p50_ms": _round(_percentile(latencies, 50), 2),
        "latency_p95_ms": _round(_percentile(latencies, 95), 2),
        "latency_p99_ms": _round(_percentile(latencies, 99), 2),
        "confidence_mean": _round(float(np.mean(confidences))) if confidences else None,
        "low_confidence_rate": _round(float(np.mean([c < LOW_CONFIDENCE for c in confidences])))
        if confidences
        else None,
        "input_length_mean": _round(float(np.mean(lengths)), 2) if lengths else None,
        "label_psi": None,
        "confidence_psi": None,
        "length_psi": None,
        "confidence_histogram": np.histogram(confidences, bins=10, range=(0, 1))[0].tolist() if confidences else [],
        "top_labels": _top(labels),
        "statuses": dict(Counter(str(r.status) for r in records)),
    }
    if reference is not None:
        stats["label_psi"] = _round(label_psi(reference.labels, labels))
        stats["confidence_psi"] = _round(reference.confidence.psi(confidences)) if reference.confidence else None
        stats["length_psi"] = _round(reference.length.psi(lengths)) if reference.length else None
    return stats


def _top(labels: list[str], count: int = 10) -> dict[str, float]:
    if not labels:
        return {}
    return {label: round(n / len(labels), 4) for label, n in Counter(labels).most_common(count)}


def window_embeddings(records: Iterable[Record], limit: int) -> NDArray[np.float32] | None:
    """The most recent ``limit`` embeddings of a window's texts (``None`` when there are none)."""
    rows: list[NDArray[np.float32]] = []
    for record in reversed(list(records)):
        for vector in reversed(record.embeddings):
            rows.append(vector)
            if len(rows) >= limit:
                return np.stack(rows[::-1])
    return np.stack(rows[::-1]) if rows else None
