"""Outbound event delivery from a sandbox to subscribed handler URLs.

Real CRMs deliver events late, sometimes twice, out of order, or never. The
outbox lets a test choose which, and records every attempt.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass(slots=True)
class OutboxPolicy:
    """How the next events are mangled. Probabilities are 0..1; delay in seconds."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    timeout: float = 2.0
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    url: str
    body: str
    status: int | None  # None: connection failed or timed out
    at: float


# Called after every attempt with (subscription key, delivered ok).
ResultHook = Callable[[str, bool], None]


class EventOutbox:
    """A background thread that POSTs form-encoded events, never retrying."""

    def __init__(
        self, policy: OutboxPolicy | None = None, *, headers: dict[str, str] | None = None
    ) -> None:
        self.policy = policy or OutboxPolicy()
        # Extra request headers on every POST (e.g. the CRM's own User-Agent).
        self.headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        self._rng = random.Random(self.policy.seed)
        self._queue: queue.Queue[tuple[str, str, str, ResultHook | None] | None] = queue.Queue()
        self._held: list[tuple[str, str, str, ResultHook | None]] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.deliveries: list[Delivery] = []
        self.dropped = 0
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-outbox", daemon=True)
        self._thread.start()

    def send(
        self, url: str, body: str, *, key: str = "", on_result: ResultHook | None = None
    ) -> None:
        """Queue one event. Policy decides whether it is dropped, doubled or held back."""
        with self._lock:
            if self._rng.random() < self.policy.drop:
                self.dropped += 1
                return
            copies = 2 if self._rng.random() < self.policy.duplicate else 1
            item = (url, body, key, on_result)
            if self._rng.random() < self.policy.reorder:
                self._held.append(item)
                return
            self._pending += copies
            held, self._held = self._held, []
            self._pending += len(held)
        for _ in range(copies):
            self._queue.put(item)
        for late in held:  # released after a newer event: out of order
            self._queue.put(late)

    def flush_held(self) -> None:
        """Release events held back for reordering."""
        with self._lock:
            held, self._held = self._held, []
            self._pending += len(held)
        for item in held:
            self._queue.put(item)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was attempted. True if it got there."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            url, body, key, on_result = item
            if self.policy.delay:
                time.sleep(self.policy.delay)
            status = self._post(url, body)
            record = Delivery(url, body, status, time.time())
            ok = status is not None and 200 <= status < 300
            if on_result is not None:
                on_result(key, ok)
            with self._idle:
                self.deliveries.append(record)
                self._pending -= 1
                self._idle.notify_all()

    def _post(self, url: str, body: str) -> int | None:
        try:
            response = self._session.post(
                url,
                data=body.encode(),
                headers=self.headers,
                timeout=self.policy.timeout,
            )
        except requests.RequestException:
            return None
        return response.status_code
