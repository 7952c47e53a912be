"""Fault injection: make the next matching requests fail in a chosen way."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    SERVER_ERROR = "server_error"  # answer with ``status`` (5xx) without running the call
    TIMEOUT = "timeout"  # hold the request ``delay`` seconds, then close without answering
    DROP_AFTER_COMMIT = "drop_after_commit"  # run the call, then close without answering


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    times: int = 1
    status: int = 500
    delay: float = 0.0
    method: str | None = None  # only requests for this API method (lower case); None = any
    skip: int = 0  # let this many matching requests through first


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int
    to_skip: int = 0


class FaultPlan:
    """A queue of armed faults; each matching request consumes one shot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def arm(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError("a fault must fire at least once")
        with self._lock:
            self._armed.append(_Armed(fault, fault.times, fault.skip))

    def take(self, method: str) -> Fault | None:
        """The fault to apply to a request for ``method``, if one is armed."""
        with self._lock:
            for slot in self._armed:
                if slot.fault.method is not None and slot.fault.method != method.lower():
                    continue
                if slot.to_skip:
                    slot.to_skip -= 1
                    return None
                slot.remaining -= 1
                if slot.remaining == 0:
                    self._armed.remove(slot)
                return slot.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(slot.remaining for slot in self._armed)
