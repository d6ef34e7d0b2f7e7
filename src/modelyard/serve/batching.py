"""Dynamic batching: concurrent requests for one model share one forward pass.

Each model has one worker task. It takes the first waiting request, then keeps
collecting until ``max_batch_size`` texts are gathered or ``max_wait_ms`` has
passed, runs the model once in a worker thread, and hands every caller its own
rows back in order. The queue is bounded by texts waiting: past ``max_queue``
a request is refused at once with ``Overloaded`` (HTTP 503 + Retry-After)
instead of letting latency grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import Overloaded

Forward = Callable[[list[str]], Any]
"""Texts in, one result per text out (a probability matrix, or a list of entity lists), indexable by slices."""


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[Any]
    enqueued: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(
        self,
        forward: Forward,
        *,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.forward = forward
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.waiting_texts = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        # One thread per model: forward passes of one model never contend with each other.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batcher")
        self._task: asyncio.Task[None] | None = None
        self._seconds_per_text = 0.005

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(Overloaded("the model is being unloaded; retry", retry_after=1))
        self._executor.shutdown(wait=False)

    async def submit(self, texts: list[str]) -> Any:
        """The forward results for ``texts`` (in the same order), computed in a shared batch."""
        if self.waiting_texts + len(texts) > self.max_queue:
            retry = max(1.0, self.waiting_texts * self._seconds_per_text)
            raise Overloaded(f"the queue is full ({self.waiting_texts} texts waiting); retry later", retry_after=retry)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting_texts += len(texts)
        await self._queue.put(_Pending(texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Pending | None = None
        while True:
            first = carry or await self._queue.get()
            carry = None
            batch, count = [first], len(first.texts)
            deadline = time.perf_counter() + self.max_wait
            while count < self.max_batch_size:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    following = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                if count + len(following.texts) > self.max_batch_size:
                    carry = following  # starts the next batch: a request is never split
                    break
                batch.append(following)
                count += len(following.texts)
            await self._serve(loop, batch, count)

    async def _serve(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending], count: int) -> None:
        texts = [text for pending in batch for text in pending.texts]
        started = time.perf_counter()
        try:
            rows = await loop.run_in_executor(self._executor, self.forward, texts)
        except Exception as error:  # every caller of the batch learns of the failure
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        finally:
            self.waiting_texts -= count
        elapsed = time.perf_counter() - started
        self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * elapsed / max(count, 1)
        if self.on_batch is not None:
            self.on_batch(count, elapsed)
        start = 0
        for pending in batch:
            end = start + len(pending.texts)
            if not pending.future.done():
                pending.future.set_result(rows[start:end])
            start = end
