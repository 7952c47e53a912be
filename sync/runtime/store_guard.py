"""Watch the store's file under a running daemon; trip once when it is gone.

Every :data:`CHECK_EVERY` seconds a thread of its own (never a runner lane: a
long pass must not delay it) asks the store's engine whether its SQLite file is
still the one it opened and writable. On the first "no" the guard trips, once:
it logs one line, remembers why (hooks then answer 503 and ``/readyz`` fails)
and calls ``on_lost`` so the daemon stops and exits non-zero. Writes cannot
reach a deleted file even before that: the store refuses every transaction
(:class:`bridge.store.db.StoreFileLost`). PostgreSQL has no file to lose; an
unreachable server fails readiness but does not stop the daemon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bridge.logs import log_event

log = logging.getLogger(__name__)
CHECK_EVERY = 2.0  # seconds


class StoreGuard:
    """``check`` returns None while the store is fine, else what is wrong."""

    def __init__(
        self,
        check: Callable[[], str | None],
        on_lost: Callable[[str], None],
        every: float = CHECK_EVERY,
    ) -> None:
        self._check = check
        self._on_lost = on_lost
        self._every = every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._run, name="store-guard", daemon=True)

    @property
    def lost(self) -> str | None:
        """Why the store is unusable, once the guard tripped; None before."""
        with self._lock:
            return self._lost

    def start(self) -> StoreGuard:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def check_now(self) -> str | None:
        """Check once (also what the thread does); trips the guard on a problem."""
        if self.lost is not None:
            return self.lost
        problem = self._check()
        if problem is None:
            return None
        with self._lock:
            first = self._lost is None
            self._lost = self._lost or problem
        if first:
            log_event(log, "store.lost", logging.ERROR, problem=problem)
            self._on_lost(problem)
        return problem

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            if self.check_now() is not None:
                return
