"""A background thread that writes queued items in batches, off the request path.

The audit log and the prediction log both need it: a request queues an item and
returns; every ``interval`` seconds the thread hands what has gathered to ``write``
in one batch. ``flush`` waits until everything queued before it is written;
``close`` writes what is left and stops the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, name: str, interval: float = 0.5) -> None:
        self._write = write
        self._name = name
        self._queue: queue.SimpleQueue[T | threading.Event | None] = queue.SimpleQueue()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._queue.put(item)

    def flush(self, timeout: float = 10.0) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[T] = []
            waiting: list[threading.Event] = []
            try:
                item = self._queue.get(timeout=self._interval)
                while True:
                    if item is None:
                        stopping = True
                    elif isinstance(item, threading.Event):
                        waiting.append(item)
                    else:
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass  # drained: write what was gathered
            if batch:
                try:
                    self._write(batch)
                except Exception:  # a log must not take the server down; the failure is logged (scrubbed) loudly
                    log.exception("%s could not write %d items", self._name, len(batch))
            for event in waiting:
                event.set()
