"""Where sync work runs. The embedded runner: a small thread pool, one lane per partner.

A *lane* is keyed by partner code (or ``"agency"``). At most one job of a lane
runs at a time, so one partner is never synced by two workers at once; at most
one more waits behind it, because a second "poll alfa" queued behind a running
one would do the same work twice (the queueing lock of a distributed queue).
A slow or failing lane never blocks the others while the pool has free workers.

:class:`EmbeddedRunner` is the only :class:`Runner` so far, and the daemon builds it
directly; the scheduler already sees only the protocol. A distributed runner
(procrastinate on PostgreSQL, so that several bridge processes share one store) is
planned but not built (issue 15, DESIGN §7 "Scale-out"): it is to live beside this
one in ``sync/runtime/`` and implement the same protocol.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from bridge.logs import log_event

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Runner(Protocol):
    def submit(self, lane: str, job: Job) -> bool:
        """Queue ``job`` on ``lane``. False when an identical wait was already queued."""
        ...

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, let running and queued jobs finish."""
        ...


@dataclass
class _Lane:
    running: bool = False
    waiting: Job | None = None


class EmbeddedRunner:
    def __init__(
        self, workers: int = 4, *, on_error: Callable[[str, BaseException], None] | None = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync")
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._closed = False
        self._on_error = on_error

    def submit(self, lane: str, job: Job) -> bool:
        with self._lock:
            if self._closed:
                return False
            state = self._lanes.setdefault(lane, _Lane())
            if state.running:
                coalesced = state.waiting is not None
                state.waiting = job  # the newest request stands for all waiting ones
                return not coalesced
            state.running = True
            self._active += 1
        self._pool.submit(self._run, lane, job)
        return True

    def _run(self, lane: str, job: Job) -> None:
        while True:
            try:
                job()
            except Exception as exc:
                log_event(log, "job.failed", logging.ERROR, lane=lane, error=repr(exc))
                if self._on_error is not None:
                    self._on_error(lane, exc)
            with self._lock:
                state = self._lanes[lane]
                next_job, state.waiting = state.waiting, None
                if next_job is None:
                    state.running = False
                    self._active -= 1
                    self._idle.notify_all()
                    return
            job = next_job

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no lane runs or waits. True if that happened within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            if not wait:
                for state in self._lanes.values():
                    state.waiting = None
        self._pool.shutdown(wait=wait)
