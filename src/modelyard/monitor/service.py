"""The monitor: per served model, sliding windows of its requests, drift against its training data, alerts.

The predict route hands each request to ``Monitor.observe`` (a non-blocking queue
put); everything else happens on the monitor's own thread: building each version's
reference once, embedding the texts (then dropping them), computing the windows'
statistics, judging the alert rules, storing alerts and handing them to the webhook.
Raw texts live only in that queue and the bounded embedding backlog — never on disk,
in the store or in a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelyard import registry
from modelyard.monitor import alerts
from modelyard.monitor.drift import Reference, domain_auc
from modelyard.monitor.notify import Delivery, WebhookNotifier
from modelyard.monitor.reference import Embedder, Scorer, Throttle, build_reference
from modelyard.monitor.rules import AlertRule, AlertRules, Window, rules_from_env
from modelyard.monitor.windows import History, Record, window_embeddings, window_stats

log = logging.getLogger(__name__)

_VOLUME = ("requests", "requests_per_second")
_TICK = threading.Event()  # stands for "the queue stayed empty for a tick"


@dataclass(frozen=True)
class MonitorSettings:
    stats_window: int = 200
    """Requests in the window every model shows (the rules' windows are shown too)."""
    reference_size: int = 500
    """Training texts per version in the reference sample."""
    drift_every: int = 20
    """The embedding AUC of a window is recomputed after this many newly embedded texts."""
    drift_texts: int = 200
    """At most this many of a window's most recent texts enter the embedding test."""
    queue_size: int = 10_000
    """Requests waiting for the monitor's thread; past it new ones are counted as dropped, not queued."""
    embed_backlog: int = 512
    """Texts waiting to be embedded per model; past it the oldest are skipped (a sample under heavy load)."""
    tick_seconds: float = 5.0
    """Seconds windows are judged at least this often, traffic or not."""
    snapshot_seconds: float = 30.0
    """How often each model's statistics are written to the store (``modelyard monitor`` reads them)."""
    max_records: int = 10_000
    embeddings: bool = True
    """Embed texts for the drift test (loads each version's base encoder once)."""
    reference_duty: float = 0.5
    """Building a reference runs in chunks, busy about this fraction of the time (live requests go between)."""
    embed_duty: float = 0.25
    """Embedding live texts may keep the monitor's thread busy at most this fraction of the time: an embedding
    costs about a forward pass, so under heavy traffic a sample is embedded instead of taking a core from serving."""


@dataclass(frozen=True)
class Observation:
    """One predict request as the route saw it. ``texts`` are kept in memory only, until embedded."""

    model: str
    version: int
    at: float
    latency_ms: float
    status: int
    texts: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...] = ()
    """Per text: its top-1 label (classification) or its entities' types (NER); empty for a failed request."""
    confidences: tuple[float | None, ...] = ()
    """Per text: top-1 probability (classification) or mean entity score (NER, ``None`` without entities)."""


@dataclass
class _ModelState:
    version: registry.VersionInfo
    history: History
    reference: Reference | None = None
    pending: deque[tuple[Record, str]] = field(default_factory=deque)
    embedded: int = 0
    auc: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    """Per window: (embedded count when computed, AUC)."""
    fired: dict[str, float] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False
    reference_tried: bool = False


class Monitor:
    def __init__(
        self,
        rules: AlertRules | None = None,
        *,
        settings: MonitorSettings | None = None,
        scorer_for: Callable[[str, registry.VersionInfo], Scorer | None] | None = None,
        version_of: Callable[[str, int], registry.VersionInfo] | None = None,
        served_models: Callable[[], dict[str, registry.VersionInfo]] | None = None,
    ) -> None:
        self.rules = rules or AlertRules()
        self.settings = settings or MonitorSettings()
        self._scorer_for = scorer_for
        self._version_of = version_of or (lambda name, number: registry.get(f"{name}:{number}"))
        self._served_models = served_models
        self._states: dict[str, _ModelState] = {}
        self._embedders: dict[str, Embedder | None] = {}
        self._embed_resume_at = 0.0
        self._flushing = False
        self.dropped = 0
        self._queue: queue.Queue[Observation | threading.Event | None] = queue.Queue(self.settings.queue_size)
        self._stopping = False
        self._last_snapshot = time.monotonic()
        self._failures: dict[str, float] = {}
        self.notifier = WebhookNotifier(self.rules.webhook, self._delivered) if self.rules.webhook else None
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    @classmethod
    def for_server(cls, pool: Any, settings: MonitorSettings | None = None) -> Monitor:
        """A monitor for a server's model pool, rules from ``MODELYARD_ALERT_RULES``; call inside the event loop."""
        loop = asyncio.get_running_loop()

        def scorer_for(name: str, version: registry.VersionInfo) -> Scorer | None:
            served = pool.served.get(name)
            if served is None or served.version.version != version.version:
                return None

            def score(texts: list[str]) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
                future = asyncio.run_coroutine_threadsafe(served.batcher.submit(texts), loop)
                return [summarize_row(version, row) for row in future.result(timeout=300)]

            return score

        rules = rules_from_env()
        if rules.rules:
            log.info("monitoring with %d alert rule(s): %s", len(rules.rules), ", ".join(r.name for r in rules.rules))

        def served_models() -> dict[str, registry.VersionInfo]:
            return {name: served.version for name, served in list(pool.served.items())}

        return cls(rules, settings=settings, scorer_for=scorer_for, served_models=served_models)

    # ------------------------------------------------------------------ the request side

    def observe(self, observation: Observation) -> None:
        """Queue one request; never blocks (a full queue drops it and counts it)."""
        try:
            self._queue.put_nowait(observation)
        except queue.Full:
            self.dropped += 1

    def status(self, model: str) -> dict[str, Any] | None:
        """The model's windows as of the monitor's last pass (computed off the request path)."""
        state = self._states.get(model)
        return dict(state.status) if state is not None and state.status else None

    def flush(self, timeout: float = 120.0) -> bool:
        """Wait until everything observed so far is processed, judged and its statistics written to the store."""
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        return done.wait(timeout)

    def close(self) -> None:
        """Stop: requests still queued are not judged; the latest statistics are written to the store."""
        self._stopping = True
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=5)
        self._thread.join(timeout=30)
        self._snapshot(force=True)
        if self.notifier is not None:
            self.notifier.close()

    # ------------------------------------------------------------------ the monitor's thread

    def _run(self) -> None:
        while True:
            waiting: list[threading.Event] = []
            touched: set[str] = set()
            item: Observation | threading.Event | None
            try:
                item = self._queue.get(timeout=self.settings.tick_seconds)
            except queue.Empty:
                item = _TICK
            if item is _TICK:  # no traffic: seconds windows still slide
                if self._stopping:
                    return
                self._guard(self._judge_all, touched)
                self._guard(self._snapshot)
                continue
            taken = 0
            while True:
                if item is None:
                    return
                if isinstance(item, threading.Event):
                    waiting.append(item)
                elif not self._stopping:
                    self._guard(self._add, item)
                    touched.add(item.model)
                    taken += 1
                if taken >= self.settings.drift_every:
                    break  # judge at least every `drift_every` requests, even with a backlog
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not self._stopping:
                self._flushing = bool(waiting)  # a flush embeds its backlog whatever the duty budget
                self._guard(self._judge_all, touched)
                self._guard(self._snapshot, bool(waiting))
            for event in waiting:
                event.set()

    def _guard(self, step: Callable[..., None], *args: Any) -> None:
        try:
            step(*args)
        except Exception:  # the monitor must never take the server down; a repeated failure is logged every 5 min
            name = getattr(step, "__name__", str(step))
            if time.monotonic() - self._failures.get(name, float("-inf")) >= 300:
                self._failures[name] = time.monotonic()
                log.exception("monitor step %s failed (the same failure is logged again after 5 minutes)", name)

    def _add(self, observation: Observation) -> None:
        state = self._states.get(observation.model)
        if state is None or state.version.version != observation.version:
            state = self._start(observation.model, observation.version)
        if not state.reference_tried:
            self._build_reference(observation.model, state)
        labels = tuple(label for per_text in observation.labels for label in per_text)
        confidences = tuple(c for c in observation.confidences if c is not None)
        record = Record(
            at=observation.at,
            latency_ms=observation.latency_ms,
            status=observation.status,
            texts=len(observation.texts),
            labels=labels,
            confidences=confidences,
            lengths=tuple(len(text) for text in observation.texts),
        )
        state.history.add(record)
        state.dirty = True
        if observation.status < 400 and self._embedder(state) is not None:
            for text in observation.texts:
                state.pending.append((record, text))
            while len(state.pending) > self.settings.embed_backlog:
                state.pending.popleft()

    def _start(self, model: str, number: int) -> _ModelState:
        state = _ModelState(self._version_of(model, number), History(self.settings.max_records))
        self._states[model] = state
        return state

    def _build_reference(self, model: str, state: _ModelState) -> None:
        state.reference_tried = True
        version = state.version
        scorer = self._scorer_for(model, version) if self._scorer_for is not None else None
        started = time.perf_counter()
        try:
            state.reference = build_reference(
                version,
                size=self.settings.reference_size,
                scorer=scorer,
                embedder=lambda: self._embedder(state),
                throttle=Throttle(self.settings.reference_duty),
            )
        except Exception as error:
            log.warning("monitor: no training-data reference for %s (%s); drift statistics are off", version.ref, error)
            return
        log.info(
            "monitor: reference of %s built in %.1f s (%d texts)",
            version.ref,
            time.perf_counter() - started,
            state.reference.size,
        )

    def _embedder(self, state: _ModelState) -> Embedder | None:
        if not self.settings.embeddings:
            return None
        spec = state.version.base_model
        if spec not in self._embedders:
            try:
                self._embedders[spec] = Embedder(spec)
            except Exception as error:
                log.warning("monitor: cannot load base encoder %s (%s); embedding drift is off", spec, error)
                self._embedders[spec] = None
        return self._embedders[spec]

    def _embed_pending(self, state: _ModelState) -> None:
        if not state.pending or (time.monotonic() < self._embed_resume_at and not self._flushing):
            return  # over the duty budget: the backlog keeps its newest texts and waits
        embedder = self._embedder(state)
        pending, state.pending = list(state.pending), deque()
        if embedder is None:
            return
        started = time.monotonic()
        vectors = embedder.embed([text for _, text in pending])
        spent = time.monotonic() - started
        self._embed_resume_at = time.monotonic() + spent * (1 / self.settings.embed_duty - 1)
        for (record, _), vector in zip(pending, vectors, strict=True):
            record.embeddings.append(vector)
        state.embedded += len(pending)
        del pending  # the texts go with it

    def _judge_all(self, touched: set[str]) -> None:
        now = time.time()
        for name in list(self._states):
            state = self._states[name]
            embedded = state.embedded
            self._embed_pending(state)  # texts held back by the duty budget are judged once embedded
            if name in touched or state.embedded != embedded or self._has_seconds_windows(name):
                self._judge(name, state, now)
        if self._served_models is not None:
            for name, version in self._served_models().items():
                if name not in self._states:
                    self._idle_model(name, version)

    def _has_seconds_windows(self, name: str) -> bool:
        return any(rule.window.seconds is not None for rule in self.rules.for_model(name))

    def _idle_model(self, name: str, version: registry.VersionInfo) -> None:
        """A served model that got no request yet still has a (silent) window: volume rules watch it."""
        if any(rule.metric in _VOLUME for rule in self.rules.for_model(name)):
            self._states[name] = _ModelState(version, History(self.settings.max_records))

    def _windows(self, name: str) -> list[Window]:
        windows = {Window(requests=self.settings.stats_window).key: Window(requests=self.settings.stats_window)}
        for rule in self.rules.for_model(name):
            windows.setdefault(rule.window.key, rule.window)
        return list(windows.values())

    def _judge(self, name: str, state: _ModelState, now: float) -> None:
        rules = self.rules.for_model(name)
        shown: list[dict[str, Any]] = []
        for window in self._windows(name):
            records = state.history.select(window, now)
            complete = records is not None
            if records is None:  # a requests window not full yet: show what there is, judge nothing
                records = list(state.history.records)
            stats = window_stats(records, window, state.reference, now=now)
            stats["complete"] = complete
            stats["embedding_auc"] = self._auc(state, window, records, rules)
            shown.append(stats)
            if not complete:
                continue
            for rule in rules:
                if rule.window.key == window.key:
                    self._check(name, state, rule, stats, now)
        state.status = {
            "model": name,
            "version": state.version.version,
            "request_index": state.history.count,
            "as_of": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            "windows": shown,
            "reference": state.reference.summary() if state.reference else None,
            "dropped": self.dropped,
        }

    def _auc(self, state: _ModelState, window: Window, records: list[Record], rules: list[AlertRule]) -> float | None:
        reference = state.reference
        if reference is None or reference.embeddings is None:
            return None
        wanted = window.requests == self.settings.stats_window or any(
            r.metric == "embedding_auc" and r.window.key == window.key for r in rules
        )
        if not wanted:
            return None
        at, value = state.auc.get(window.key, (-(10**9), None))
        if state.embedded - at >= self.settings.drift_every:
            embedded = window_embeddings(records, self.settings.drift_texts)
            value = None if embedded is None else domain_auc(reference.embeddings, embedded)
            value = None if value is None else round(value, 4)
            state.auc[window.key] = (state.embedded, value)
        return value

    def _check(self, name: str, state: _ModelState, rule: AlertRule, stats: dict[str, Any], now: float) -> None:
        value = stats.get(rule.metric)
        if value is None:
            return
        if rule.metric in _VOLUME:
            if not state.history.covers(rule.window, now):
                return
        elif rule.window.seconds is not None and stats["requests"] < rule.min_requests:
            return
        if not rule.breached(float(value)):
            return
        if now - state.fired.get(rule.name, float("-inf")) < rule.cooldown:
            return
        state.fired[rule.name] = now
        details = {
            "request_index": state.history.count,
            "stats": {k: v for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
        }
        webhook = self.notifier is not None
        alert = alerts.record_alert(name, state.version.version, rule, float(value), details, webhook=webhook)
        if alert is None:
            log.info("%s on %s: already fired by another replica within its cooldown", rule.name, name)
            return
        log.warning("ALERT %s (request %d of this version)", alert.summary, state.history.count)
        if self.notifier is not None:
            self.notifier.send(alert.id, alert.payload())

    def _delivered(self, alert_id: int, delivery: Delivery) -> None:
        alerts.set_delivery(alert_id, delivery.delivered, delivery.attempts)

    def _snapshot(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_snapshot < self.settings.snapshot_seconds:
            return
        self._last_snapshot = time.monotonic()
        for name, state in list(self._states.items()):
            if state.status and (state.dirty or force):
                alerts.save_snapshot(name, state.version.version, state.status)
                state.dirty = False


def summarize_row(version: registry.VersionInfo, row: Any) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """A batcher result row as the monitor keeps it: (top-1 label,), (probability,) — or entity types and mean score."""
    if version.task == "token-classification":
        entities = list(row)
        scores = [float(e.score) for e in entities]
        return tuple(str(e.label) for e in entities), ((float(np.mean(scores)),) if scores else ())
    best = int(np.argmax(row))
    return (version.labels[best],), (float(row[best]),)
