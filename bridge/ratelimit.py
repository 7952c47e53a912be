"""Client-side pacing so the bridge never provokes a CRM's rate limit in steady state.

One :class:`Pacer` per CRM account per process, shared by every thread that
calls that account. It is a leaky bucket mirroring the server's: ``burst``
requests may go at once, then one every ``1/rate`` seconds. When the server
still says "slow down" (503/429), :meth:`Pacer.pause` holds everyone back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Thread-safe leaky bucket. ``acquire()`` blocks until a request may be sent."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._level = 0.0  # requests "in the bucket", drains at ``rate`` per second
        self._stamp = clock()
        self._paused_until = 0.0
        self.waited = 0.0  # total seconds callers spent waiting, for metrics

    def _drain(self, now: float) -> None:
        self._level = max(0.0, self._level - (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self) -> float:
        """Book one request slot; return how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            # Wait until the bucket has room for one more (level <= burst - 1).
            wait = max(0.0, (self._level + 1 - self.burst) / self.rate)
            wait = max(wait, self._paused_until - now)
            self._level += 1
            self.waited += wait
            return wait

    def in_use(self) -> float:
        """How full the bucket is now, 0.0–1.0 (at 1.0 the next request waits)."""
        with self._lock:
            self._drain(self._clock())
            return min(1.0, self._level / self.burst)

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """The server pushed back: nobody sends for ``seconds``; the bucket counts as full."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            self._paused_until = max(self._paused_until, now + seconds)
            self._level = max(self._level, float(self.burst))
