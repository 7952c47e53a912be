"""Log a CRM going down once and its recovery once — not once per poll."""

from __future__ import annotations

import logging
import threading

from bridge.logs import log_event

log = logging.getLogger(__name__)


class HealthTracker:
    """Remembers which accounts are failing; logs only the transitions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: dict[str, str] = {}

    def failed(self, account: str, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {error}"
        with self._lock:
            first = account not in self._failing
            self._failing[account] = reason
        if first:
            log_event(log, "crm.down", logging.WARNING, account=account, reason=reason)

    def succeeded(self, account: str) -> None:
        with self._lock:
            was = self._failing.pop(account, None)
        if was is not None:
            log_event(log, "crm.recovered", account=account, after=was)

    def failing(self) -> dict[str, str]:
        with self._lock:
            return dict(self._failing)
