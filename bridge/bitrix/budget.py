"""The per-method operating-time budget Bitrix24 reports in every ``time`` block.

Bitrix24 sums each method's execution time per webhook over 10 minutes and
blocks the method with 429 ``OPERATION_TIME_LIMIT`` past the limit (480 s in the
cloud, reference §3.2). Every answer says how much is used (``operating``) and
when the oldest minute drops out (``operating_reset_at``). fast-bitrix24 never
reads the latter and does not see commands inside a batch, so the adapter
tracks it here and slows a method down before the portal blocks it.

``operating_reset_at`` is portal time; it is turned into a local monotonic
deadline using the answer's own ``finish`` time, so clock skew does not matter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

DEFAULT_LIMIT = 480.0
SAFETY_MARGIN = 60.0


class OperatingBudget:
    """Thread-safe record of each method's used operating time."""

    def __init__(
        self,
        *,
        limit: float = DEFAULT_LIMIT,
        margin: float = SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.soft_limit = limit - margin
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}  # method -> local time its budget frees up

    def record(self, method: str, time_block: Mapping[str, Any] | None) -> None:
        """Note one ``time`` block returned for ``method``."""
        if not isinstance(time_block, Mapping):
            return
        try:
            operating = float(time_block.get("operating") or 0)
            reset_at = float(time_block["operating_reset_at"])
            portal_now = float(time_block.get("finish") or time_block["start"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            if operating < self.soft_limit:
                self._until.pop(method, None)
                return
            self._until[method] = self._clock() + max(0.0, reset_at - portal_now)

    def block(self, method: str, seconds: float) -> None:
        """The portal refused ``method`` (429): hold it back for ``seconds``."""
        with self._lock:
            self._until[method.lower()] = self._clock() + seconds

    def record_batch(self, commands: Mapping[str, str], times: Mapping[str, Any]) -> None:
        """Note the per-command ``result_time`` blocks of a batch answer."""
        for key, cmd in commands.items():
            block = times.get(key)
            if isinstance(block, Mapping):
                self.record(cmd.split("?", 1)[0].lower(), block)

    def wait_for(self, methods: Iterable[str]) -> float:
        """Seconds to hold off before calling any of ``methods`` (0 when within budget)."""
        now = self._clock()
        with self._lock:
            return max((self._until.get(m.lower(), now) - now for m in methods), default=0.0)
