"""Partner lanes: every call to a partner CRM runs with that partner's own deadline.

A partner whose CRM accepts connections and never answers would otherwise hold a
pass for as long as its HTTP timeouts and retries last, and so delay every other
partner. Here each call to a partner runs on a thread of its own and the pass waits
for it only as long as the partner's deadline allows:

* a pass gives each partner ``deadline`` seconds in all (:meth:`Lanes.begin` for one
  partner's lane, :meth:`Lanes.begin_pass` for every partner at once);
  a call that does not answer in what is left fails with :class:`Unavailable`
  ("did not answer within N s"), which the engine treats like any partner that is
  down: its work is requeued and its cursor does not advance;
* the call that missed is left to finish in the background and its result is thrown
  away; until it returns the partner is *busy* — set aside at once, never waited on;
* once it has returned, the partner is only *probed*: its next pass gets ``probe``
  seconds, and the full deadline again after a call answers in time.

Agency calls never go through a lane: a partner's lane of a pass calls the agency
through :class:`SerialCrm`, one call at a time, spending the portal's one rate budget
(its pacer), the same kind of call from several lanes combined into one. Outside a pass
(e.g. a reconcile) every call gets a full deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TypeVar

from bridge.crm import CreateBatches, Crm, Unavailable, WriteResult
from bridge.envnumbers import seconds_from_env, whole_from_env
from bridge.model import (
    ChangePage,
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    FieldDef,
    Note,
    Pipeline,
)
from sync.combine import Combiner, Gate

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEADLINE_ENV = "BRIDGE_PARTNER_DEADLINE"
PROBE_ENV = "BRIDGE_PARTNER_PROBE"
DEFAULT_DEADLINE = 30.0  # seconds a pass gives one partner, all its calls together
DEFAULT_PROBE = 1.0  # seconds for a partner that missed its deadline last time
CONCURRENCY_ENV = "BRIDGE_PARTNER_CONCURRENCY"
DEFAULT_CONCURRENCY = 16  # partners' lanes running at once in one pass


def concurrency_from_env(default: int = DEFAULT_CONCURRENCY) -> int:
    """How many partners' lanes run at once; a bad value says so in one line."""
    return whole_from_env(CONCURRENCY_ENV, default, "lanes")


@dataclass
class _Lane:
    busy: Future[object] | None = None  # the call that missed its deadline, still running
    probing: bool = False  # missed last time: the next pass gets the probe deadline only
    left: float | None = None  # seconds left in the current pass (None: outside a pass)
    active: bool = False  # its pass (or its lane of a pass) is running
    missed_after: float = 0.0  # the deadline the busy call missed


class Lanes:
    """Per-partner deadlines over blocking calls; shared by every pass of one engine."""

    def __init__(
        self,
        deadline: float | None = None,
        probe: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deadline = (
            deadline if deadline is not None else seconds_from_env(DEADLINE_ENV, DEFAULT_DEADLINE)
        )
        self.probe = probe if probe is not None else seconds_from_env(PROBE_ENV, DEFAULT_PROBE)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._lanes: dict[str, _Lane] = {}
        self._in_pass = False
        self.gate = Gate()  # a lane waiting on its partner is not waited for by agency reads

    def _lane(self, code: str) -> _Lane:
        return self._lanes.setdefault(code, _Lane())

    # --- the pass ----------------------------------------------------------------
    def begin_pass(self) -> None:
        """Each partner's budget for one pass: the deadline, or the probe after a miss."""
        with self._lock:
            self._in_pass = True
            for lane in self._lanes.values():
                lane.left = None

    def end_pass(self) -> None:
        with self._lock:
            self._in_pass = False
            for lane in self._lanes.values():
                lane.left = None

    def begin(self, code: str) -> None:
        """``code``'s lane of a pass starts: its budget is the deadline (or the probe),
        however long other partners' lanes of that pass run."""
        with self._lock:
            lane = self._lane(code)
            lane.active = True
            lane.left = None

    def end(self, code: str) -> None:
        with self._lock:
            lane = self._lane(code)
            lane.active = False
            lane.left = None

    def busy(self, code: str) -> Unavailable | None:
        """Why ``code`` is not called now: a call that missed its deadline has not returned."""
        with self._lock:
            lane = self._lanes.get(code)
            if lane is None or lane.busy is None:
                return None
            return Unavailable(
                f"partner '{code}' is busy: a call that did not answer within "
                f"{_secs(lane.missed_after)} has not returned yet",
                system=code,
            )

    def wait_idle(self, code: str, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until ``code`` has no call left running in the
        background; whether it has none."""
        with self._returned:
            return self._returned.wait_for(
                lambda: (lane := self._lanes.get(code)) is None or lane.busy is None, timeout
            )

    def probing(self, code: str) -> bool:
        with self._lock:
            lane = self._lanes.get(code)
            return lane is not None and lane.probing

    # --- one call ----------------------------------------------------------------
    def call(self, code: str, fn: Callable[[], _T]) -> _T:
        """``fn()`` on a lane thread; its result if it answers within the partner's budget."""
        with self._lock:
            lane = self._lane(code)
            if lane.busy is not None:
                raise Unavailable(
                    f"partner '{code}' is busy: a call that did not answer within "
                    f"{_secs(lane.missed_after)} has not returned yet",
                    system=code,
                )
            full = self.probe if lane.probing else self.deadline
            budget = full if (lane.left is None or not self._counting(lane)) else lane.left
            if budget <= 0:
                raise Unavailable(
                    f"partner '{code}' used up its {_secs(full)} for this pass", system=code
                )
        future: Future[_T] = Future()
        thread = threading.Thread(target=_run, args=(future, fn), name=f"lane-{code}", daemon=True)
        started = self._monotonic()
        thread.start()
        try:
            with self.gate.away():
                result = future.result(timeout=budget)
        except FutureTimeout:
            # Named by its deadline for the pass (what an operator can set), not by what
            # was left of it when this call started.
            self._missed(code, future, full)
            raise Unavailable(
                f"partner '{code}' did not answer within {_secs(full)}", system=code
            ) from None
        except BaseException:
            self._spent(code, started, answered=True)
            raise
        self._spent(code, started, answered=True)
        return result

    def _spent(self, code: str, started: float, *, answered: bool) -> None:
        elapsed = self._monotonic() - started
        with self._lock:
            lane = self._lane(code)
            if answered and lane.probing:
                # It answers in time again: back to the full deadline, less what it used.
                lane.probing = False
                lane.left = self.deadline - elapsed if self._counting(lane) else None
                log.info("partner %s answers again within its probe deadline", code)
                return
            if self._counting(lane):
                budget = lane.left if lane.left is not None else self.deadline
                lane.left = budget - elapsed

    def _counting(self, lane: _Lane) -> bool:
        """Whether a call spends the lane's budget for a pass (else it gets a full one)."""
        return self._in_pass or lane.active

    def _missed(self, code: str, future: Future[_T], budget: float) -> None:
        with self._lock:
            lane = self._lane(code)
            lane.busy = future  # type: ignore[assignment]
            lane.probing = True
            lane.left = 0.0
            lane.missed_after = budget
        log.warning(
            "partner %s did not answer within %s; it is set aside until it does",
            code,
            _secs(budget),
        )

        def returned(_: Future[_T]) -> None:
            with self._lock:
                if lane.busy is future:
                    lane.busy = None
                self._returned.notify_all()

        future.add_done_callback(returned)

    def crm(self, code: str, crm: Crm) -> Crm:
        """``crm`` with every call in ``code``'s lane (a lane-wrapped CRM is kept as is)."""
        if isinstance(crm, LaneCrm) and crm.lanes is self and crm.code == code:
            return crm
        return LaneCrm(self, code, crm.inner if isinstance(crm, LaneCrm) else crm)


def _run(future: Future[_T], fn: Callable[[], _T]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as exc:
        future.set_exception(exc)


def _secs(value: float) -> str:
    return f"{value:.3g} s"


class _Relay:
    """A :class:`Crm` whose every call goes through :meth:`_call` (one place to wrap)."""

    def __init__(self, inner: Crm) -> None:
        self.inner = inner

    def _call(self, fn: Callable[[], _T]) -> _T:
        raise NotImplementedError

    @property
    def system(self) -> str:
        return self.inner.system

    def pipelines(self) -> Sequence[Pipeline]:
        return self._call(lambda: list(self.inner.pipelines()))

    def custom_fields(self) -> Sequence[FieldDef]:
        return self._call(lambda: list(self.inner.custom_fields()))

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        return self._call(lambda: self.inner.fetch_deals(ids))

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        return self._call(lambda: self.inner.find_by_stamp(stamps))

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        return self._call(lambda: self.inner.find_stamped(stamps, pipeline_id=pipeline_id))

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        # Every page is read inside the lane: a generator would run on the pass thread.
        return iter(self._call(lambda: list(self.inner.list_changed(since))))

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        return self._call(lambda: self.inner.create_deals(drafts))

    def whole_creates(self, drafts: Sequence[DealDraft]) -> int:
        """Counted here, not in a lane: it asks the CRM nothing (every draft is whole when
        the adapter does not say)."""
        inner = self.inner
        return inner.whole_creates(drafts) if isinstance(inner, CreateBatches) else len(drafts)

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        return self._call(lambda: self.inner.update_deals(patches))

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        return self._call(lambda: self.inner.fetch_contacts(ids))

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        return self._call(lambda: self.inner.fetch_companies(ids))

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        return self._call(lambda: self.inner.add_notes(notes))

    def list_notes(self, deal_id: str) -> list[Note]:
        return self._call(lambda: self.inner.list_notes(deal_id))

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        return self._call(lambda: self.inner.list_notes_many(deal_ids))

    def close(self) -> None:
        self.inner.close()


class LaneCrm(_Relay):
    """A partner's :class:`Crm` whose every call runs in its lane (see :class:`Lanes`)."""

    def __init__(self, lanes: Lanes, code: str, inner: Crm) -> None:
        super().__init__(inner)
        self.lanes = lanes
        self.code = code

    def _call(self, fn: Callable[[], _T]) -> _T:
        return self.lanes.call(self.code, fn)


class SerialCrm(_Relay):
    """The agency's :class:`Crm` as the partners' lanes share it: one call at a time.

    The agency portal has one rate budget (its pacer) for all lanes; calling it from
    one lane at a time also keeps an adapter that is not thread-safe safe. A lane
    holds the lock only for the length of one call. Reads by id and writes that several
    lanes make meanwhile are combined into one call (:mod:`sync.combine`).
    """

    def __init__(
        self, inner: Crm, lock: threading.Lock | None = None, gate: Gate | None = None
    ) -> None:
        super().__init__(inner)
        self.lock = lock or threading.Lock()
        self.combiner = Combiner(self.lock, gate or Gate())

    def _call(self, fn: Callable[[], _T]) -> _T:
        with self.lock:
            return fn()

    # Reads by id and writes of several lanes waiting for the agency go out as one call
    # (:mod:`sync.combine`): the portal's budget pays for full batches, not one per lane.
    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        return self.combiner.keyed("fetch_deals", ids, self.inner.fetch_deals)

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        return self.combiner.keyed("find_by_stamp", stamps, self.inner.find_by_stamp)

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        return self.combiner.keyed("fetch_contacts", ids, self.inner.fetch_contacts)

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        return self.combiner.keyed("fetch_companies", ids, self.inner.fetch_companies)

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        return self.combiner.keyed("list_notes_many", deal_ids, self.inner.list_notes_many)

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        return self.combiner.positional("update_deals", patches, self.inner.update_deals)

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        return self.combiner.positional("add_notes", notes, self.inner.add_notes)

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        """Page by page, each page read under the lock: the pass thread reads a long
        listing chunk by chunk (:class:`sync.sources.poll.Listing`) while the lanes
        write, and never holds the whole of it."""
        pages = self._call(lambda: iter(self.inner.list_changed(since)))
        while (page := self._call(lambda: next(pages, None))) is not None:
            yield page


__all__ = [
    "CONCURRENCY_ENV",
    "DEADLINE_ENV",
    "PROBE_ENV",
    "LaneCrm",
    "Lanes",
    "SerialCrm",
    "concurrency_from_env",
    "seconds_from_env",
    "whole_from_env",
]
