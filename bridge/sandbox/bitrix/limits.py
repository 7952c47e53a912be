"""Bitrix24's two cloud limits, on the sandbox clock.

* Request rate: a leaky bucket per portal (50 burst / 2 per s; Enterprise
  250 / 5). Over the brim → 503 ``QUERY_LIMIT_EXCEEDED``, before the call runs.
  A ``batch`` is one request.
* Operating time: per webhook and method, the summed execution time over a
  600 s window of ten 1-minute baskets. Above the limit (480 s) → 429
  ``OPERATION_TIME_LIMIT`` for that method only. Execution time is simulated:
  each call costs a configurable number of seconds.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.sandbox.bitrix.core import ApiError

PLANS = {"standard": (50, 2.0), "enterprise": (250, 5.0)}
WINDOW = 600.0
BASKET = 60.0


def query_limit_error() -> ApiError:
    return ApiError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")


def operation_limit_error() -> ApiError:
    return ApiError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")


class LeakyBucket:
    """Each request adds 1; the level drains ``per_second``; above ``burst`` → refused."""

    def __init__(self, burst: int, per_second: float, now: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._now = now
        self.enabled = True
        self.configure(burst, per_second)

    def configure(self, burst: int, per_second: float) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be >= 1 and per_second > 0")
        with self._lock:
            self.burst = burst
            self.per_second = per_second
            self._level = 0.0
            self._at = self._now()

    def admit(self) -> None:
        """Count one request or raise the 503 error."""
        if not self.enabled:
            return
        with self._lock:
            now = self._now()
            self._level = max(0.0, self._level - (now - self._at) * self.per_second)
            self._at = now
            if self._level + 1 > self.burst:
                raise query_limit_error()
            self._level += 1

    @property
    def level(self) -> float:
        with self._lock:
            elapsed = self._now() - self._at
            return max(0.0, self._level - elapsed * self.per_second)


@dataclass(slots=True)
class OperatingMeter:
    """Per-method execution time in 1-minute baskets over a 10-minute window."""

    now: Callable[[], float]
    limit: float = 480.0
    # Real portals report ``operating: 0`` for light calls (see the fixtures), and
    # fast-bitrix24 sums the reported running totals; a zero default keeps long
    # runs from self-throttling. Tests and benchmarks set costs per method.
    default_cost: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    enabled: bool = True
    _baskets: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cost(self, method: str) -> float:
        return self.costs.get(method, self.default_cost)

    def check(self, method: str) -> None:
        """Raise the 429 error if ``method`` already used up its window."""
        if self.enabled and self.used(method) > self.limit:
            raise operation_limit_error()

    def record(self, method: str) -> tuple[float, float, int]:
        """Charge one call; its (cost, operating so far, operating_reset_at)."""
        spent = self.cost(method)
        now = self.now()
        with self._lock:
            baskets = self._baskets[method]
            minute = int(now // BASKET)
            baskets[minute] = baskets.get(minute, 0.0) + spent
        return spent, self.used(method), self.reset_at(method)

    def used(self, method: str) -> float:
        current = int(self.now() // BASKET)
        oldest = current - int(WINDOW // BASKET) + 1
        with self._lock:
            baskets = self._baskets[method]
            for minute in [m for m in baskets if m < oldest]:
                del baskets[minute]
            return sum(baskets.values())

    def reset_at(self, method: str) -> int:
        """When the oldest basket still counted for ``method`` drops out of the sum."""
        with self._lock:
            baskets = self._baskets.get(method) or {}
            oldest = min(baskets) if baskets else int(self.now() // BASKET)
        return math.ceil((oldest * BASKET) + WINDOW)
