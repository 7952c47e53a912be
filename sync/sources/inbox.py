"""The inbox as the engine sees it: record hints from any source, take the due ones."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from bridge.model import Hint
from bridge.store import inbox
from bridge.store.db import Store
from bridge.store.inbox import DueHint

DEFAULT_DEBOUNCE = dt.timedelta(seconds=2)
TRICKLE_DEBOUNCE = dt.timedelta(milliseconds=250)  # folds the events of one save
STORM_DEBOUNCE = dt.timedelta(seconds=10)  # as long as the inbox's MAX_WAIT
STORM_RATE = 20  # hints per second above which the inbox is in a storm


class AdaptiveDebounce:
    """How long a webhook hint waits before it is due, by the inbox's arrival rate.

    A trickle (at most ``rate`` hints in the last second) waits ``trickle`` — long
    enough to fold the few events one save fires, so an edit goes out at the next
    inbox tick. In a storm every hint waits ``storm`` (never less than ``trickle``);
    a deal hinted again pushes its own wait (:func:`bridge.store.inbox.add`), so the
    storm's deals fold into a few passes after it calms down, and the inbox's
    ``MAX_WAIT`` still bounds how long any deal can be pushed. While a storm lasts,
    :meth:`may_drain` lets a pass for due hints start once per ``storm`` only, so a
    storm longer than ``MAX_WAIT`` still folds. ``storm`` None: a fixed ``trickle``
    debounce.
    """

    def __init__(
        self,
        trickle: dt.timedelta = TRICKLE_DEBOUNCE,
        storm: dt.timedelta | None = STORM_DEBOUNCE,
        rate: int = STORM_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trickle = trickle
        self.storm = trickle if storm is None else max(storm, trickle)
        self.rate = rate
        self._clock = clock
        self._arrivals: deque[tuple[float, int]] = deque()
        self._recent = 0
        self._stormed_at: float | None = None  # when the rate was last above ``rate``
        self._drained_at: float | None = None  # when a pass last started during a storm
        self._lock = threading.Lock()

    def __call__(self, hints: int) -> dt.timedelta:
        """The debounce for ``hints`` arriving now (counted towards the rate)."""
        now = self._clock()
        with self._lock:
            self._arrivals.append((now, hints))
            self._recent += hints
            while self._arrivals and self._arrivals[0][0] <= now - 1.0:
                self._recent -= self._arrivals.popleft()[1]
            storming = self._recent > self.rate and self.storm > self.trickle
            if storming:
                self._stormed_at = now
        return self.storm if storming else self.trickle

    def may_drain(self) -> bool:
        """Whether a pass for due hints may start now: always outside a storm (none in
        the last ``storm``), else once per ``storm``."""
        now = self._clock()
        pause = self.storm.total_seconds()
        with self._lock:
            calm = self._stormed_at is None or now - self._stormed_at >= pause
            if calm or self._drained_at is None or now - self._drained_at >= pause:
                self._drained_at = None if calm else now
                return True
            return False


def record(
    store: Store,
    hints: Iterable[Hint],
    debounce: dt.timedelta = DEFAULT_DEBOUNCE,
    *,
    partner: str | None = None,
) -> int:
    """Store hints durably (webhooks call this before answering 200); ``partner``:
    addressed to that partner's job only (:func:`bridge.store.inbox.add`)."""
    with store.transaction() as session:
        return inbox.add(session, hints, debounce, partner=partner)


def take_due(
    store: Store,
    now: dt.datetime,
    systems: Sequence[str] | None = None,
    limit: int = 5000,
    *,
    address: inbox.Address = None,
) -> list[DueHint]:
    """Hints ready to handle; they stay in the inbox until :func:`finish` is called.
    ``address``: which addresses (:func:`bridge.store.inbox.due`; None: any)."""
    with store.transaction() as session:
        return inbox.take(session, now, systems=systems, limit=limit, address=address)


def finish(store: Store, handled: Iterable[DueHint]) -> int:
    with store.transaction() as session:
        return inbox.done(session, handled)
