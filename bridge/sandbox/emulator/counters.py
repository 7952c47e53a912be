"""Thread-safe counting of what clients asked a sandbox for."""

from __future__ import annotations

import threading
from collections import Counter


class CallLog:
    """Counts HTTP requests, API methods (batch commands included) and statuses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._methods: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()

    def request(self) -> None:
        with self._lock:
            self._requests += 1

    def method(self, name: str) -> None:
        with self._lock:
            self._methods[name] += 1

    def status(self, code: int) -> None:
        with self._lock:
            self._statuses[code] += 1

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def methods(self) -> dict[str, int]:
        with self._lock:
            return dict(self._methods)

    def statuses(self) -> dict[int, int]:
        with self._lock:
            return dict(self._statuses)

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._methods.clear()
            self._statuses.clear()
