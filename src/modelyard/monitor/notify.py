"""Webhook delivery of alerts: a JSON POST, retried with exponential backoff on its own thread.

A 2xx answer is success. Connection errors, timeouts, 408, 429 and 5xx answers are
retried up to ``attempts`` times in all, waiting ``backoff_seconds`` and doubling
(capped at ``max_backoff_seconds``; a ``Retry-After`` header is honoured within that
cap); any other 4xx means the receiver refuses this payload and is not retried.
The url is never logged (it may carry a token); only its host is.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelyard.monitor.rules import Webhook

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    last: str
    """The last answer: ``HTTP 200``, ``HTTP 503`` or the connection error's class name."""


def deliver(
    hook: Webhook,
    payload: dict[str, Any],
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Callable[[], float | None] | None = None,
) -> Delivery:
    """POST ``payload`` to the hook until it is accepted, refused or the attempts run out.

    ``deadline()`` (a ``time.monotonic`` value, or ``None``) stops the retries early: the server is stopping.
    """
    own = client is None
    http = client or httpx.Client(timeout=hook.timeout_seconds)
    last = "not sent"
    try:
        for attempt in range(1, hook.attempts + 1):
            wait = min(hook.backoff_seconds * 2 ** (attempt - 1), hook.max_backoff_seconds)
            try:
                response = http.post(hook.url, json=payload, timeout=hook.timeout_seconds)
            except httpx.HTTPError as error:
                last = type(error).__name__
            else:
                last = f"HTTP {response.status_code}"
                if response.is_success:
                    return Delivery(True, attempt, last)
                if response.status_code not in RETRYABLE:
                    return Delivery(False, attempt, last)
                wait = min(max(wait, _retry_after(response)), hook.max_backoff_seconds)
            stop_at = deadline() if deadline is not None else None
            if attempt == hook.attempts or (stop_at is not None and time.monotonic() + wait > stop_at):
                return Delivery(False, attempt, last)
            sleep(wait)
        return Delivery(False, hook.attempts, last)
    finally:
        if own:
            http.close()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0)))
    except ValueError:
        return 0.0


Callback = Callable[[int, Delivery], None]


class WebhookNotifier:
    """Queues alerts and delivers them one after another on a background thread.

    ``on_result(alert_id, delivery)`` is called after each alert's last attempt
    (the monitor records it on the alert row). ``close`` lets queued deliveries
    run for at most ``drain_seconds`` more, then gives up on the rest.
    """

    def __init__(self, hook: Webhook, on_result: Callback | None = None, *, drain_seconds: float = 10.0) -> None:
        self.hook = hook
        self.on_result = on_result
        self.drain_seconds = drain_seconds
        self._queue: queue.SimpleQueue[tuple[int, dict[str, Any]] | None] = queue.SimpleQueue()
        self._deadline: float | None = None
        self._client = httpx.Client(timeout=hook.timeout_seconds)
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return urlsplit(self.hook.url).hostname or "?"

    def send(self, alert_id: int, payload: dict[str, Any]) -> None:
        self._queue.put((alert_id, payload))

    def close(self) -> None:
        self._deadline = time.monotonic() + self.drain_seconds
        self._queue.put(None)
        self._thread.join(timeout=self.drain_seconds + self.hook.timeout_seconds + 1)
        self._client.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            alert_id, payload = item
            if self._deadline is not None and time.monotonic() > self._deadline:
                result = Delivery(False, 0, "not sent: the server stopped")
            else:
                result = deliver(self.hook, payload, client=self._client, deadline=lambda: self._deadline)
            if not result.delivered:
                log.warning(
                    "alert %d not delivered to the webhook at %s after %d attempt(s): %s",
                    alert_id,
                    self.host,
                    result.attempts,
                    result.last,
                )
            if self.on_result is not None:
                try:
                    self.on_result(alert_id, result)
                except Exception:
                    log.exception("could not record the delivery of alert %d", alert_id)
