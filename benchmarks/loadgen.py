"""A small, bounded HTTP/1.1 load generator for loopback benchmarks.

Raw asyncio streams with keep-alive instead of an HTTP client library: the
generator shares the machine's two cores with the server under test, so it
must cost as little CPU as possible. Bounded in request count and time.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    status_counts: dict[int, int]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.requests_per_second, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0.0,
            "status_counts": self.status_counts,
        }


async def _client(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    bodies: list[bytes],
    next_index: list[int],
    total: int,
    deadline: float,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        while next_index[0] < total and time.perf_counter() < deadline:
            index = next_index[0]
            next_index[0] += 1
            body = bodies[index % len(bodies)]
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{head}"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.status_counts[status] = result.status_counts.get(status, 0) + 1
            if status != 200:
                result.errors += 1
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        result.errors += 1
    finally:
        writer.close()


async def run_load(
    host: str,
    port: int,
    path: str,
    texts: list[str],
    *,
    headers: dict[str, str] | None = None,
    concurrency: int = 32,
    total: int = 10_000,
    max_seconds: float = 300,
) -> LoadResult:
    """``total`` single-text POSTs from ``concurrency`` keep-alive clients; stops early at ``max_seconds``."""
    bodies = [json.dumps({"text": t}).encode() for t in texts]
    result = LoadResult(0, 0, 0.0, [], {})
    next_index = [0]
    started = time.perf_counter()
    deadline = started + max_seconds
    await asyncio.gather(
        *(
            _client(host, port, path, headers or {}, bodies, next_index, total, deadline, result)
            for _ in range(concurrency)
        )
    )
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies_ms)
    return result
