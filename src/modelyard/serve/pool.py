"""The models a server holds, kept in step with the registry without a restart.

``refresh`` asks the registry which version each served name should run (its
production version; a name given explicitly falls back to its latest). LoRA
versions of a BERT-family base share one copy of that base in memory
(``adapters.SharedBase``), classification and NER alike; the base is loaded
with its first adapter and dropped with its last. A new
version is loaded beside the old one — files verified against their manifest
first — and swapped in only once it works; a version that fails verification
or loading is refused — logged, counted in ``modelyard_model_load_failures_total``,
shown in ``/readyz`` and written to the audit log — and the previous one keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from modelyard import adapters, audit, registry, store, tasks
from modelyard.artifacts import verify_manifest
from modelyard.errors import ModelyardError, NotFound
from modelyard.serve.batching import Batcher
from modelyard.serve.metrics import ServerMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    max_batch_size: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 1024


@dataclass
class Served:
    version: registry.VersionInfo
    predictor: Any
    runtime: str
    batcher: Batcher
    load_seconds: float
    adapter: str | None = None
    """The adapter key on the shared base of ``version.base_model`` (LoRA versions served unmerged)."""


@dataclass
class LoadFailure:
    ref: str
    message: str
    at: float = field(default_factory=time.time)


def load_predictor(folder: Path) -> tuple[Any, str]:
    """The exported ONNX model (int8 unless exported with ``--quantize none``) when a usable export exists,
    the torch model otherwise. The second value names the runtime for logs, metrics and the model card."""
    if _export_usable(folder):
        from modelyard.runtime import INT8_FILE, load_exported

        predictor = load_exported(folder)
        return predictor, "onnx-int8" if predictor.model_file.name == INT8_FILE else "onnx-fp32"
    task = tasks.get(_version_record(folder)["task"])
    return task.predictor(folder, _max_length(folder)), "torch"


def _export_usable(folder: Path) -> bool:
    export = folder / "export.json"
    return export.is_file() and bool(json.loads(export.read_text(encoding="utf-8")).get("usable"))


def _version_record(folder: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((folder / "version.json").read_text(encoding="utf-8"))
    return record


def _max_length(folder: Path) -> int:
    return int(_version_record(folder)["config"]["model"]["max_length"])


def adapter_predictor(folder: Path, shared: adapters.SharedBase) -> tuple[Any, str]:
    """A predictor of the version's task whose forward pass runs on ``shared``; the adapter key."""
    key = shared.add(folder)
    task = _version_record(folder)["task"]
    forward = functools.partial(shared.forward, key)
    if task == "token-classification":
        from modelyard.tasks.token_classification.predict import TokenPredictor

        return TokenPredictor(folder, _max_length(folder), forward=forward), key
    from modelyard.tasks.text_classification.predict import Predictor

    return Predictor(folder, _max_length(folder), forward=forward), key


class ModelPool:
    def __init__(self, names: list[str] | None, batching: BatchSettings, metrics: ServerMetrics) -> None:
        self.names = names
        self.batching = batching
        self.metrics = metrics
        self.served: dict[str, Served] = {}
        self.bases: dict[str, adapters.SharedBase] = {}
        """Shared base models by spec, each holding the adapters of the served LoRA versions on it."""
        self.failures: dict[str, LoadFailure] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Served:
        served = self.served.get(name)
        if served is None:
            raise NotFound(f"model {name!r} is not served here; GET /v1/models lists the served ones")
        return served

    def _wanted(self) -> dict[str, registry.VersionInfo]:
        if self.names is None:
            with store.session() as db:
                names = sorted(
                    set(db.scalars(select(store.ModelVersion.name).where(store.ModelVersion.stage == "production")))
                )
        else:
            names = self.names
        wanted = {}
        for name in names:
            try:
                wanted[name] = registry.get(name)
            except NotFound:
                log.warning("model %s has no registered version yet", name)
        return wanted

    async def refresh(self) -> None:
        """Load what changed in the registry; unload names no longer wanted."""
        async with self._lock:
            wanted = await asyncio.to_thread(self._wanted)
            for name, version in wanted.items():
                current = self.served.get(name)
                if current is not None and current.version.version == version.version:
                    continue
                failed = self.failures.get(name)
                if failed is not None and failed.ref == version.ref:
                    continue  # refused once already; do not reload a bad version every poll
                await self._load(name, version)
            for name in set(self.served) - set(wanted):
                await self._unload(self.served.pop(name))

    async def _load(self, name: str, version: registry.VersionInfo) -> None:
        started = time.perf_counter()
        try:
            predictor, runtime, adapter = await asyncio.to_thread(self._load_verified, version)
        except (ModelyardError, OSError, ValueError, RuntimeError) as error:
            self.failures[name] = LoadFailure(version.ref, str(error))
            self.metrics.load_failures.labels(name).inc()
            # The alert: an error log line, the Prometheus counter and /readyz for the live view, and an
            # audit row (no key: the server acted) so the refusal is on record after a restart.
            await asyncio.to_thread(audit.record, None, "model.load", f"model:{version.ref}", "refused")
            keeping = self.served.get(name)
            log.error(
                "refused %s: %s; %s",
                version.ref,
                error,
                f"still serving {keeping.version.ref}" if keeping else "nothing served for this name",
            )
            return
        seconds = time.perf_counter() - started
        batcher = Batcher(
            predictor.serve,
            max_batch_size=self.batching.max_batch_size,
            max_wait_ms=self.batching.max_wait_ms,
            max_queue=self.batching.max_queue,
            on_batch=self._observer(name),
        )
        batcher.start()
        previous = self.served.get(name)
        self.served[name] = Served(version, predictor, runtime, batcher, seconds, adapter)
        self.failures.pop(name, None)
        self.metrics.load_seconds.labels(name, str(version.version), runtime).set(seconds)
        log.info("serving %s with %s (loaded in %.1fs)", version.ref, runtime, seconds)
        if previous is not None:
            await self._unload(previous)

    def _load_verified(self, version: registry.VersionInfo) -> tuple[Any, str, str | None]:
        """Runs in a worker thread; only one load at a time (``refresh`` holds the pool's lock)."""
        verify_manifest(version.path)
        if _export_usable(version.path) or not adapters.supports(version.path):
            predictor, runtime = load_predictor(version.path)
            return predictor, runtime, None
        shared = self.bases.get(version.base_model)
        if shared is None:
            shared = self.bases[version.base_model] = adapters.SharedBase(version.base_model)
        try:
            predictor, adapter = adapter_predictor(version.path, shared)
        except BaseException:
            self._drop_unused_base(version.base_model)
            raise
        return predictor, "torch-lora-shared", adapter

    async def _unload(self, served: Served) -> None:
        await served.batcher.stop()
        if served.adapter is not None:
            shared = self.bases.get(served.version.base_model)
            if shared is not None:
                shared.remove(served.adapter)
                self._drop_unused_base(served.version.base_model)

    def _drop_unused_base(self, spec: str) -> None:
        shared = self.bases.get(spec)
        if shared is not None and not shared.heads:
            del self.bases[spec]

    def _observer(self, name: str) -> Any:
        def observe(count: int, seconds: float) -> None:
            self.metrics.batch_size.labels(name).observe(count)
            self.metrics.forward_seconds.labels(name).observe(seconds)

        return observe

    def queue_depths(self) -> dict[str, int]:
        return {name: served.batcher.waiting_texts for name, served in self.served.items()}

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # a failed poll (database blip) must not end the watcher
                log.exception("registry poll failed")

    async def close(self) -> None:
        for served in self.served.values():
            await self._unload(served)
        self.served.clear()
