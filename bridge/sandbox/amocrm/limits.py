"""Request limits of the sandbox: 7 requests/s per account, then a block.

Two readings of "7 requests per second", both over the sandbox clock:
``bucket`` (default) — a token bucket holding ``rate`` tokens, refilled at
``rate`` per second, so an evenly paced client is never refused for network
jitter; ``window`` — at most ``rate`` requests in any trailing second (stricter).
Refused requests get 429. More than ``block_after`` refusals within ``block_window``
seconds block the account: every API request then gets an nginx-style HTML
403 (what users saw from the real service, reference §3.4) until ``unblock()``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from bridge.sandbox.emulator import SimClock

WINDOW = 1.0


class Verdict:
    OK = "ok"
    SLOW_DOWN = "429"
    BLOCKED = "403"


@dataclass
class RateLimiter:
    clock: SimClock
    rate: float | None = 7.0
    mode: str = "bucket"  # or "window"
    block_after: int | None = 50
    block_window: float = 60.0
    blocked: bool = False
    refused: int = 0
    _admitted: deque[float] = field(default_factory=deque)
    _tokens: float | None = None
    _stamp: float = 0.0
    _refusals: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> str:
        """Admit or refuse one request now."""
        with self._lock:
            if self.blocked:
                return Verdict.BLOCKED
            if self.rate is None:
                return Verdict.OK
            now = self.clock.time()
            admitted = self._take_bucket(now) if self.mode == "bucket" else self._take_window(now)
            if admitted:
                return Verdict.OK
            self.refused += 1
            return self._refuse(now)

    def _take_bucket(self, now: float) -> bool:
        assert self.rate is not None
        if self._tokens is None:
            self._tokens = self.rate
        self._tokens = min(self.rate, self._tokens + max(0.0, now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1 - 1e-5:  # clock floats near 1.8e9 s lose sub-µs precision
            self._tokens -= 1
            return True
        return False

    def _take_window(self, now: float) -> bool:
        assert self.rate is not None
        while self._admitted and self._admitted[0] <= now - WINDOW:
            self._admitted.popleft()
        if len(self._admitted) < self.rate:
            self._admitted.append(now)
            return True
        return False

    def _refuse(self, now: float) -> str:
        self._refusals.append(now)
        while self._refusals and self._refusals[0] <= now - self.block_window:
            self._refusals.popleft()
        if self.block_after is not None and len(self._refusals) > self.block_after:
            self.blocked = True
        return Verdict.SLOW_DOWN

    def unblock(self) -> None:
        with self._lock:
            self.blocked = False
            self._refusals.clear()
            self._admitted.clear()
            self._tokens = None


BLOCK_PAGE = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
