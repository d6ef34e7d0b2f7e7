"""Dynamic batching: answers go back to the right caller in order; a full queue refuses at once."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from modelyard.errors import Overloaded
from modelyard.serve.batching import Batcher


def echo_forward(sizes: list[int]) -> object:
    def forward(texts: list[str]) -> np.ndarray:
        sizes.append(len(texts))
        return np.array([[float(t.split("-")[0]), float(t.split("-")[1])] for t in texts], dtype=np.float32)

    return forward


def test_concurrent_callers_share_batches_and_get_their_own_rows() -> None:
    sizes: list[int] = []

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(echo_forward(sizes), max_batch_size=16, max_wait_ms=20)  # type: ignore[arg-type]
        batcher.start()
        requests = [[f"{caller}-{item}" for item in range(caller % 3 + 1)] for caller in range(40)]
        answers = await asyncio.gather(*(batcher.submit(texts) for texts in requests))
        await batcher.stop()
        for caller, rows in enumerate(answers):
            assert rows[:, 0].tolist() == [caller] * len(requests[caller])
            assert rows[:, 1].tolist() == list(range(len(requests[caller])))
        return answers

    asyncio.run(scenario())
    assert sum(sizes) == sum(c % 3 + 1 for c in range(40))
    assert max(sizes) > 1 and max(sizes) <= 16  # coalesced, never past the limit, requests never split


def test_full_queue_is_refused_immediately() -> None:
    release = threading.Event()

    def slow(texts: list[str]) -> np.ndarray:
        release.wait(5)
        return np.zeros((len(texts), 2), dtype=np.float32)

    async def scenario() -> None:
        batcher = Batcher(slow, max_batch_size=2, max_wait_ms=0, max_queue=4)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(["a", "b", "c"]))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded) as caught:
            await batcher.submit(["d", "e"])
        assert caught.value.retry_after >= 1
        release.set()
        assert (await first).shape == (3, 2)
        await batcher.stop()

    asyncio.run(scenario())


def test_a_failing_forward_reaches_every_caller() -> None:
    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model exploded")

    async def scenario() -> None:
        batcher = Batcher(broken, max_batch_size=8, max_wait_ms=10)
        batcher.start()
        results = await asyncio.gather(batcher.submit(["a"]), batcher.submit(["b"]), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert batcher.waiting_texts == 0
        await batcher.stop()

    asyncio.run(scenario())
