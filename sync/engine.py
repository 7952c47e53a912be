"""One sync pass: hints → fetch in bulk → plan (pure) → apply writes in bulk → record.

The engine gets every dependency injected — store, compiled mapping, the agency
``Crm`` and one ``Crm`` per partner, a clock — so tests run it against fakes or
sandboxes alike. Partners are isolated: one partner's CRM failing (down, rate
limited, unauthorised) is recorded for ``bridge status`` and never stops the
others; deals that could not be handled go back to the inbox, so the cursors
may still advance.

The agency side is read once per pass on the pass thread; every partner's share —
poll → plan → apply → record, its cursor, hints and health — runs in that partner's
own lane on a bounded thread pool, concurrently, each partner call within its
deadline (:mod:`sync.lanes`), the agency called through one lock (one rate budget).
A partner that does not answer fails its lane alone and is set aside until its call
returns; a pass may end without a lane still running (``pass_wait``), requeueing the
agency deals that lane has not taken before the agency cursor moves past them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bridge.channels.normalise import Fingerprint
from bridge.crm import CreateBatches, Crm, CrmError, RateLimited, Unavailable
from bridge.fx.rates import RateBook
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping, Connection, Side
from bridge.model import HOLD_KEY, Deal, Hint, HintKind, LinkKey, LinkState, Pipeline
from bridge.store import audit, cursors, health, links, starts
from bridge.store import inbox as inbox_store
from bridge.store.audit import AuditEvent
from bridge.store.cursors import CursorConflict
from bridge.store.db import Store
from bridge.store.health import PartnerHealth
from bridge.store.inbox import DueHint
from bridge.store.links import StoredLink
from sync.apply import Applier, Outcome, crash_point
from sync.echoes import EchoCheck
from sync.gather import AgencySide, Gathered, Gatherer, PartnerPoll
from sync.heap import tune_collector
from sync.lanes import Lanes, SerialCrm, concurrency_from_env
from sync.leads import receive_leads
from sync.ledger_hook import LedgerHook
from sync.plan.money import CONFIRM_KEY, REFUSED_KEY
from sync.plan.types import AddNote, CreatePartnerDeal, LinkPlan, UpdateDeal
from sync.planning import Planner, Planning, default_planner
from sync.rates import fx_rates
from sync.record import APPLIED, FAILED, PARKED, Recorder, Recording
from sync.screening import post_comments, screen_creates
from sync.sources import inbox, poll

log = logging.getLogger(__name__)
AGENCY = "agency"
RETRY_DELAY = dt.timedelta(seconds=30)
BREAKER_AFTER = 5  # failed passes in a row before a partner is paused by the bridge
BREAKER_BASE = dt.timedelta(seconds=30)
BREAKER_MAX = dt.timedelta(minutes=10)
HANDOVER_LOCK = 0x7062_6861_6E64  # advisory-lock key around a client's handover ("pbhand")


class Paused(Unavailable):
    """Not called this pass on purpose: paused in mapping.yaml (not a failure)."""


class StillRunning(Paused):
    """Not called this pass: its lane of an earlier pass is still running (not a failure;
    that lane records its own outcome when it ends)."""


class BreakerOpen(Paused):
    """Not called this pass: the circuit breaker paused it after repeated failures (a
    failure still, reported as such; it is probed when the pause is over)."""


@dataclass
class PassReport:
    started_at: dt.datetime
    # Every plan of a dry run (what it would do). A pass that writes keeps only counts
    # (``verdicts``, ``writes``, ``written``): its plans are released chunk by chunk.
    plans: list[LinkPlan] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    # Writes planned per side: ``agency`` or the partner's code.
    written: dict[str, int] = field(default_factory=dict)
    chunks: int = 0  # the chunks of the agency's window the pass handled one by one
    errors: dict[str, str] = field(default_factory=dict)
    # Per partner covered: when the bridge first synced it (a dry run shows this pass's
    # time for a partner never synced, and records nothing).
    starts: dict[str, dt.datetime] = field(default_factory=dict)
    # Partners whose lane was still running when the pass stopped waiting for it: the lane
    # goes on and records its own outcome; their agency deals were requeued.
    running: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> None:
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1


class _Aborted(BaseException):
    """The pass died (a crash point, an unexpected error): its lanes stop where they are,
    as they would with the process, instead of writing on behind it."""


class _NoAgency(Exception):
    """The agency side of the pass failed: its lanes end without doing anything."""


@dataclass(frozen=True)
class _Shared:
    """What the pass thread reads once for all lanes: the agency side, the partners' starts."""

    side: AgencySide
    starts: Mapping[str, dt.datetime]


@dataclass
class _LaneWork:
    """What every lane of one pass shares: the agency side (ready once the pass thread
    has read it), the pass's terms, and the lanes that left their wrap-up to the pass."""

    now: dt.datetime
    polling: bool
    dry_run: bool
    routed_to: str | None = None  # a partner job: agency changes come routed to it as hints
    # A later chunk of the agency's window (:class:`poll.Listing`): the partners' windows
    # and hints were the first chunk's; their listings (``polls``) answer stamp lookups.
    later: bool = False
    polls: dict[str, PartnerPoll] = field(default_factory=dict)
    # The partners' cursors (by system) as the polling pass read them, all in one query
    # before its lanes start; a lane without one reads its own.
    read_cursors: Mapping[str, cursors.Cursor] = field(default_factory=dict)
    # Per partner, the creates a lane of an earlier chunk left for the next one: the
    # part-filled create request at the end of its chunk (see :meth:`Engine._carry`).
    carried: dict[str, list[Recording]] = field(default_factory=dict)
    shared: Future[_Shared] = field(default_factory=Future)
    # Whether another chunk of the agency's window follows this one (set once the pass
    # thread has read it, or knows there is none; False when the pass stops early).
    more: Future[bool] = field(default_factory=Future)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ended: list[_LaneEnd] = field(default_factory=list)
    _closed: bool = False
    _aborted: threading.Event = field(default_factory=threading.Event)
    _rates: RateBook | None = None

    def rates(self, read: Callable[[], RateBook]) -> RateBook:
        """The exchange rates of this pass, read by its first lane that needs them: one
        read per pass instead of two per lane (a rate set meanwhile counts next pass)."""
        with self._lock:
            if self._rates is None:
                self._rates = read()
            return self._rates

    def abort(self) -> None:
        self._aborted.set()
        self.followed(False)

    def followed(self, more: bool) -> None:
        """Whether another chunk follows this one (the first answer counts)."""
        with self._lock:
            if not self.more.done():
                self.more.set_result(more)

    def check(self) -> None:
        """Raise :class:`_Aborted` in a lane once its pass has died."""
        if self._aborted.is_set():
            raise _Aborted

    def hand_over(self, end: _LaneEnd) -> bool:
        """A lane that succeeded leaves its wrap-up to the pass, unless the pass has
        already stopped waiting for it (False: the lane wraps up on its own)."""
        with self._lock:
            if not self._closed:
                self._ended.append(end)
            return not self._closed

    def close(self) -> list[_LaneEnd]:
        """The pass stops waiting: the lanes that handed over their wrap-up."""
        self.followed(False)
        with self._lock:
            self._closed = True
            return list(self._ended)


@dataclass(frozen=True)
class _LaneEnd:
    """A lane that succeeded: what is left to record (its cursor, hints and health)."""

    code: str
    window: poll.Window | None
    hints: tuple[DueHint, ...]


@dataclass
class _LaneResult:
    """What one partner's lane did: its plans and verdicts, and why it failed, if it did."""

    code: str
    plans: list[LinkPlan] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    written: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: CrmError | None = None
    # The plans brought from the chunk before, with the links and deals read with them.
    carried: dict[LinkKey, Recording] = field(default_factory=dict)

    def into(self, report: PassReport) -> None:
        """Counts only: a pass that writes does not keep its plans (dry runs do)."""
        for verdict, n in self.verdicts.items():
            report.verdicts[verdict] = report.verdicts.get(verdict, 0) + n
        report.writes += self.writes
        for side, n in self.written.items():
            report.written[side] = report.written.get(side, 0) + n
        for code, text in self.errors.items():
            report.errors.setdefault(code, text)
        if self.error is not None and _failing(self.error):
            report.errors.setdefault(self.code, str(self.error))


class Progress(Protocol):
    """Told each step of a pass, and how far the long ones are (``done`` of ``total``)."""

    def __call__(self, step: str, done: int = 0, total: int = 0) -> None: ...


def _silent(step: str, done: int = 0, total: int = 0) -> None:
    return None


class Engine:
    def __init__(
        self,
        store: Store,
        mapping: CompiledMapping,
        agency: Crm,
        partners: Mapping[str, Crm],
        *,
        clock: Callable[[], dt.datetime],
        planner: Planner | None = None,
        overlap: dt.timedelta = poll.DEFAULT_OVERLAP,
        progress: Progress | None = None,
        crash: Callable[[str], None] = crash_point,
        retry_delay: dt.timedelta = RETRY_DELAY,
        lanes: Lanes | None = None,
        concurrency: int | None = None,
        pass_wait: float | None = None,
        chunk: int | None = None,
    ) -> None:
        """Notes are read (in bulk) and mirrored for the partners whose
        ``policies.mirror_notes`` the current mapping turns on: the engine reads it from the
        mapping each pass, so every runner honours it, also after a reload.

        ``lanes`` gives every partner call its partner's deadline (:mod:`sync.lanes`;
        by default from ``BRIDGE_PARTNER_DEADLINE`` / ``BRIDGE_PARTNER_PROBE``).
        ``concurrency``: how many partners' lanes run at once (default
        ``BRIDGE_PARTNER_CONCURRENCY``, 16). ``pass_wait``: how long a pass waits for
        its lanes before it ends without the ones still running (None: until all end;
        the daemon sets it so a late partner never holds up the next pass).
        ``chunk``: how many agency deals a polling pass handles at once (default
        ``BRIDGE_PASS_CHUNK``, 2,500): a large window (a first mirror) is fetched, planned,
        applied and recorded chunk by chunk, the next chunk read while the lanes write
        the one before; the cursors move once the last chunk is recorded."""
        tune_collector()  # an engine's passes allocate in bulk (sync.heap)
        self.chunk = chunk if chunk is not None else poll.chunk_from_env()
        self.lanes = lanes or Lanes()
        self.concurrency = concurrency if concurrency is not None else concurrency_from_env()
        self.pass_wait = pass_wait
        self._pool: ThreadPoolExecutor | None = None
        self._running: dict[str, Future[_LaneResult]] = {}
        self._guard = threading.Lock()  # the engine's own maps, shared by the lanes
        # Held by a lane from screening its creates for channel conflicts until their
        # handovers are recorded, so two lanes never hand one client over unseen.
        self._handover = threading.Lock()
        self.retry_delay = retry_delay  # before a deal that failed transiently is tried again
        self.store = store
        self.mapping = mapping
        self.agency = agency
        self.partners = dict(partners)
        self.clock = clock
        self.planner = planner or default_planner()
        self.overlap = overlap
        self.progress: Progress = progress or _silent
        self.crash = crash
        self.retry_parked = True  # first pass, and after every mapping change
        self._parked_retried: set[str] = set()  # partner jobs that did since (scale-out)
        self._pipelines: dict[str, Any] = {}
        # Where a pipeline is looked up before the CRM is asked (the daemon: the resolution
        # cache every process shares); None, or a miss there: read live.
        self.pipelines_from: Callable[[Connection], Sequence[Pipeline] | None] | None = None
        self._rest_until: dict[str, tuple[dt.datetime, RateLimited]] = {}

    @property
    def partners(self) -> dict[str, Crm]:
        """The partners' CRMs, each call in its partner's lane."""
        return self._partners

    @partners.setter
    def partners(self, crms: Mapping[str, Crm]) -> None:
        self._partners = _InLanes(self.lanes)
        self._partners.update(crms)

    @property
    def agency(self) -> Crm:
        """The agency's CRM; the partners' lanes call it through one lock (:class:`SerialCrm`)."""
        return self._agency

    @agency.setter
    def agency(self, crm: Crm) -> None:
        self._agency = crm
        self._shared_agency = SerialCrm(crm, gate=self.lanes.gate)

    def close(self) -> None:
        """Wait for the partners' lanes still running (each ends within its deadline)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def update_mapping(self, mapping: CompiledMapping) -> None:
        """A new mapping may fix what parked deals were waiting for: retry them next pass."""
        self.mapping = mapping
        self.retry_parked = True
        self._parked_retried.clear()
        self._pipelines.clear()  # a stage may have been recreated or renamed

    def codes(self, partner: str | None = None) -> list[str]:
        """The partners a pass covers: every partner of the mapping (or the one asked for),
        including those that cannot be called now — their work waits in the inbox."""
        if partner is not None and partner not in self.mapping.partners:
            raise KeyError(f"unknown partner {partner!r}; known: {sorted(self.mapping.partners)}")
        return [partner] if partner else sorted(self.mapping.partners)

    def reachable(self, partner: str | None = None) -> list[str]:
        """The partners a pass would call now (:meth:`codes` less those set aside)."""
        codes = self.codes(partner)
        aside = self._set_aside(codes, self.clock())
        return [c for c in codes if c not in aside]

    def _set_aside(self, codes: Sequence[str], now: dt.datetime) -> dict[str, CrmError]:
        """Partners not called this pass, each with why: paused in mapping.yaml, not
        opened or not resolved, or paused by the bridge after repeated failures."""
        with self.store.transaction() as session:
            rows = health.partners(session)
        aside: dict[str, CrmError] = {}
        for code in codes:
            config = self.mapping.partners[code]
            if config.unavailable is not None:
                reason = f"partner '{code}' is not available: {config.unavailable.reason}"
                aside[code] = Unavailable(reason, system=code)
            elif config.paused:
                aside[code] = Paused(f"partner '{code}' is paused in mapping.yaml", system=code)
            elif code not in self.partners:
                reason = f"partner '{code}': its CRM connection could not be opened"
                aside[code] = Unavailable(reason, system=code)
            elif (busy := self.lanes.busy(code)) is not None:
                aside[code] = busy
            elif (lane := self._running.get(code)) is not None and not lane.done():
                aside[code] = StillRunning(
                    f"partner '{code}': its lane of an earlier pass is still running",
                    system=code,
                )
            elif (row := rows.get(code)) is not None and (until := breaker_open(row, now)):
                aside[code] = BreakerOpen(
                    f"partner '{code}' paused by the bridge after {row.consecutive_failures} "
                    f"failed passes ({row.last_error}); next try at {until:%H:%M:%S} UTC",
                    system=code,
                )
        return aside

    # --- the pass ----------------------------------------------------------------
    def sync(
        self,
        partner: str | None = None,
        *,
        dry_run: bool = False,
        poll: bool = True,
        wait: float | None = None,
        routed: bool = False,
    ) -> PassReport:
        """One pass. ``poll=False`` handles due hints only (a webhook burst), no listing.

        The agency side is read once on this thread; then every partner's poll → plan →
        apply → record runs in its own lane, at most :attr:`concurrency` at once, each
        with its own deadline. ``wait`` (default :attr:`pass_wait`) bounds how long the
        pass waits for its lanes; a lane still running then goes on alone.

        ``routed`` (with ``partner``): the scale-out runner's partner job — the agency's
        window is not read and its cursor not moved; the agency job (:meth:`fan_out`)
        routed the agency's changes to this partner as hints addressed to it."""
        if routed and partner is None:
            raise ValueError("a routed pass is one partner's")
        waiting = wait if wait is not None else self.pass_wait
        return self._pass(
            partner,
            dry_run=dry_run,
            poll=poll,
            wait_for=waiting,
            routed=partner if routed else None,
        )

    def fan_out(self, *, poll: bool = True) -> PassReport:
        """The scale-out runner's agency job: the agency's window (when ``poll``) and its
        due hints, routed as hints addressed to each partner they concern — recorded,
        with those partners' jobs queued (:mod:`sync.runtime.outbox`), the agency cursor
        moved and the hints taken marked done, all in one transaction."""
        now = self.clock()
        report = PassReport(started_at=now)
        if (resting := self._resting(now).get(AGENCY)) is not None:
            return self._agency_down(report, resting, now)
        try:
            self._pipeline(self.agency, None)  # the own-echo test needs it
            routed = self._gatherer().route_agency(now, polling=poll, size=self.chunk)
        except CrmError as exc:
            self._rest(AGENCY, exc, now)
            return self._agency_down(report, exc, now)
        self.crash("before_cursor_commit")
        system = self.agency.system
        with self.store.transaction() as session:
            for code, ids in sorted(routed.by_partner.items()):
                hints = [Hint(system, i, HintKind.UPDATED, now, "agency") for i in sorted(ids)]
                inbox_store.add(session, hints, dt.timedelta(0), partner=code)
            if routed.window is not None:
                self._advance_in(session, routed.window, now)
                # every partner lists its own changes with what was routed to it: one job
                inbox_store.want_polls(session, self.mapping.partners)
            inbox_store.done(session, routed.hints)
            health.success(session, AGENCY, now)
        return report

    def _pass(
        self,
        partner: str | None,
        *,
        dry_run: bool,
        poll: bool,
        wait_for: float | None,
        routed: str | None = None,
    ) -> PassReport:
        now = self.clock()
        report = PassReport(started_at=now)
        codes = self.codes(partner)
        self.progress("gather")
        set_aside = {**self._set_aside(codes, now), **self._resting(now)}
        if AGENCY in set_aside:
            return self._agency_down(report, set_aside[AGENCY], now)
        live = [c for c in codes if c not in set_aside]
        polling = poll and not dry_run
        read = self._cursors(live) if polling else {}
        work = _LaneWork(now, poll, dry_run, routed, read_cursors=read)
        # The lanes poll their partners while this thread reads the agency side; a pass
        # over due hints only starts the lanes of the partners they concern, after it.
        lanes = self._start_lanes(live, work) if polling else {}
        try:
            return self._pass_with_lanes(
                report, codes, live, set_aside, lanes, work, wait_for, all_partners=partner is None
            )
        except BaseException:
            # The pass died: its lanes stop where they are (as with the process) and it
            # ends only once none of them runs, so none writes on behind it.
            if not work.shared.done():
                work.shared.set_exception(_NoAgency("the pass died"))
            work.abort()
            wait(lanes.values())
            raise

    def _pass_with_lanes(
        self,
        report: PassReport,
        codes: Sequence[str],
        live: Sequence[str],
        set_aside: dict[str, CrmError],
        lanes: dict[str, Future[_LaneResult]],
        work: _LaneWork,
        wait_for: float | None,
        *,
        all_partners: bool,
    ) -> PassReport:
        now = work.now
        listing = self._listing(work)
        chunks = listing.chunks() if listing is not None else iter(())
        try:
            first = next(chunks) if listing is not None else None
            side = self._gatherer().agency_side(
                codes,
                now,
                parked=self.retry_parked and work.routed_to not in self._parked_retried,
                polling=work.polling,
                resting=set_aside,
                routed_to=work.routed_to,
                chunk=first,
            )
            self._pipeline(self.agency, None)
            report.starts = self._starts(live, now, record=not work.dry_run)
        except CrmError as exc:
            work.shared.set_exception(_NoAgency(str(exc)))
            work.close()
            # Its lanes end at once (after the partner call in flight, if any), waited
            # for as a pass waits for its lanes: a later pass must not find them running.
            self._wait_lanes(lanes, wait_for)
            self._rest(AGENCY, exc, now)
            return self._agency_down(report, exc, now)
        work.shared.set_result(_Shared(side, report.starts))
        if not work.polling and not work.dry_run:
            lanes.update(self._start_lanes(self._concerned(side), work))
        self.crash("after_page_fetch")
        report.errors.update({c: str(e) for c, e in set_aside.items() if _failing(e)})
        if work.dry_run:
            self._dry_report(report, [self._lane(code, work) for code in live])
            return report
        return self._chunk_by_chunk(
            report, codes, set_aside, (side, lanes, work), listing, chunks, wait_for, all_partners
        )

    def _chunk_by_chunk(
        self,
        report: PassReport,
        codes: Sequence[str],
        set_aside: Mapping[str, CrmError],
        first: tuple[AgencySide, dict[str, Future[_LaneResult]], _LaneWork],
        listing: poll.Listing | None,
        chunks: Iterator[poll.Window],
        wait_for: float | None,
        all_partners: bool,
    ) -> PassReport:
        """The lanes of each chunk of the agency's window in turn (one chunk when the pass
        does not list, or its window is small), the next chunk read while they write; then
        the end of the pass — the cursors move only once the last chunk is recorded."""
        side, lanes, work = first
        now = work.now
        agency_hints = [h for h in side.got.hints if h.hint.system == self.agency.system]
        window = side.got.agency_window
        out: dict[str, CrmError] = {}  # partners out of the rest of the pass: failed, running
        ended: dict[str, _LaneEnd] = {}
        while True:
            report.chunks += 1
            try:
                # The next chunk is read from the agency while this one's lanes write.
                following = self._following(chunks, codes, now, set_aside, work)
            except CrmError as exc:
                # The agency failed mid-window: the chunks so far are recorded, and the
                # cursors stay, so the next pass lists the window again (no loss; the
                # links and stamps already made keep it from creating anything twice).
                work.close()
                for result in self._wait_lanes(lanes, None)[0]:
                    result.into(report)
                self._rest(AGENCY, exc, now)
                return self._agency_down(report, exc, now)
            except BaseException:
                work.abort()
                wait(lanes.values())
                raise
            # Only the last chunk's lanes are waited for at most ``wait_for``: a lane of
            # an earlier one ends within its partner's deadline, and the chunk after it
            # needs it ended (never two lanes of one partner at once).
            waiting = wait_for if following is None else None
            self._chunk_done(report, side, set_aside, lanes, work, waiting, out, ended)
            if following is None:
                break
            self.crash("after_chunk")
            side = following
            carried = work.carried
            work = _LaneWork(
                now, False, False, work.routed_to, later=True, polls=work.polls, carried=carried
            )
            work.shared.set_result(_Shared(side, report.starts))
            self._requeue_for_down(side.got, out, work.routed_to)
            concerned = self._concerned(side)
            concerned += [c for c in side.live if c in carried and c not in concerned]
            lanes = self._start_lanes([c for c in concerned if c not in out], work)
        self._requeue_carried(work, set(work.carried))  # none after the last chunk
        report.running = sorted(c for c, e in out.items() if isinstance(e, StillRunning))
        if report.running:
            log.info("pass ends without the lanes still running: %s", ", ".join(report.running))
        if listing is not None:
            window = listing.window()
        wrap = [e for c, e in ended.items() if c not in out]
        self._finish(window, agency_hints, set_aside, codes, all_partners, now, wrap)
        self.crash("after_local_commit")
        if work.routed_to is None:
            self.retry_parked = False
        elif not set_aside:
            self._parked_retried.add(work.routed_to)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.verdicts.items()))
        log.info("pass applied: %s", counts or f"{APPLIED} 0")
        return report

    def _chunk_done(
        self,
        report: PassReport,
        side: AgencySide,
        set_aside: Mapping[str, CrmError],
        lanes: Mapping[str, Future[_LaneResult]],
        work: _LaneWork,
        wait_for: float | None,
        out: dict[str, CrmError],
        ended: dict[str, _LaneEnd],
    ) -> None:
        """Wait for one chunk's lanes: count what they did, note the partners out of the
        rest of the pass (their lane failed, or still runs), keep the lanes' wrap-ups."""
        try:
            done, running = self._wait_lanes(lanes, wait_for)
        except BaseException:
            work.abort()  # a lane's unexpected error: the pass dies with its lanes
            raise
        for end in work.close():
            ended.setdefault(end.code, end)  # the first chunk's holds the partner's cursor
        for result in done:
            result.into(report)
            if result.error is not None:
                out.setdefault(result.code, result.error)
        still = {c: StillRunning(f"partner '{c}' still running", system=c) for c in running}
        out.update(still)
        # A partner out of the rest of the pass leaves the creates it carried to the inbox.
        self._requeue_carried(work, set(out))
        # The agency deals of partners that did not take them (set aside, or still
        # running) go back to the inbox before the agency cursor moves past them; those
        # of a lane that failed were requeued by the lane itself.
        self._requeue_for_down(side.got, {**set_aside, **still}, work.routed_to)

    def _listing(self, work: _LaneWork) -> poll.Listing | None:
        """A polling pass that writes reads the agency's window chunk by chunk (a partner
        job reads no agency window: the agency job routed it)."""
        if not work.polling or work.dry_run or work.routed_to is not None:
            return None
        return poll.Listing(self.store, self._shared_agency, self.overlap, self.chunk)

    def _following(
        self,
        chunks: Iterator[poll.Window],
        codes: Sequence[str],
        now: dt.datetime,
        set_aside: Mapping[str, CrmError],
        work: _LaneWork,
    ) -> AgencySide | None:
        """The agency side of the window's next chunk, None after the last one (the
        lanes of ``work`` are told which, as soon as it is known)."""
        chunk = next(chunks, None)
        work.followed(chunk is not None)
        if chunk is None:
            return None
        return self._gatherer().agency_side(
            codes, now, parked=False, resting=set_aside, chunk=chunk, later=True
        )

    def _concerned(self, side: AgencySide) -> list[str]:
        """The live partners a pass over hints has work for: a hint of theirs is due, or
        an agency deal it read is routed to or linked with them."""
        got = side.got
        systems = {h.hint.system for h in got.hints}
        codes = {c for c in side.live if self.partners[c].system in systems}
        routing = self.mapping.agency.routing_field_id
        for deal in got.agency_deals.values():
            codes.update(p.code for p in self.mapping.routed_partners(deal.fields.get(routing)))
        for per_code in got.links.values():
            codes.update(per_code)
        return [c for c in side.live if c in codes]

    def _gatherer(self) -> Gatherer:
        return Gatherer(
            self.store,
            self.mapping,
            self._shared_agency,
            self.partners,
            self.overlap,
            echoes=self._echoes(list(self.mapping.partners)),
        )

    def _start_lanes(self, live: Sequence[str], work: _LaneWork) -> dict[str, Future[_LaneResult]]:
        """Every live partner's lane on the pool (at most :attr:`concurrency` at once)."""
        with self._guard:  # partner jobs of the scale-out runner start passes at once
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="partner-lane")
            pool = self._pool
        futures = {code: pool.submit(self._lane, code, work) for code in live}
        with self._guard:
            self._running.update(futures)
        for code, future in futures.items():
            future.add_done_callback(functools.partial(self._lane_ended, code))
        return futures

    def _wait_lanes(
        self, futures: Mapping[str, Future[_LaneResult]], wait_for: float | None
    ) -> tuple[list[_LaneResult], list[str]]:
        """The results of the lanes that ended within ``wait_for`` seconds (all, when
        None), and the codes of those still running."""
        pending = set(futures.values())
        total = len(futures)
        self.progress("partners", 0, total)
        while pending:
            finished, pending = wait(pending, timeout=wait_for, return_when=FIRST_EXCEPTION)
            self.progress("partners", total - len(pending), total)
            if not finished or wait_for is not None or any(f.exception() for f in finished):
                break
        if any(f.done() and f.exception() is not None for f in futures.values()):
            # A lane's unexpected error (not a CRM's) is the pass's: raised once every
            # other lane has ended, so no lane of a failed pass outlives it.
            wait(futures.values())
            for future in futures.values():
                future.result()
        ended = [f for f in futures.values() if f.done()]
        return [f.result() for f in ended], [c for c, f in futures.items() if not f.done()]

    def _lane_ended(self, code: str, future: Future[_LaneResult]) -> None:
        with self._guard:
            if self._running.get(code) is future:
                del self._running[code]
        if not future.cancelled() and (exc := future.exception()) is not None:
            log.error("partner %s: its lane failed: %s", code, exc, exc_info=exc)

    @staticmethod
    def _dry_report(report: PassReport, results: Sequence[_LaneResult]) -> None:
        """A dry run records nothing, not even its partners' failures: it reports them."""
        for result in results:
            report.plans.extend(result.plans)
            if result.error is not None and _failing(result.error):
                report.errors[result.code] = str(result.error)

    def _rest(self, code: str, exc: CrmError, now: dt.datetime) -> None:
        """A rate-limited account is not called again until its ``retry_after`` has passed.

        Its adapter would otherwise sleep through the pause inside the next call and
        hold up every other partner of that pass.
        """
        if isinstance(exc, RateLimited):
            with self._guard:
                self._rest_until[code] = (now + dt.timedelta(seconds=exc.retry_after), exc)

    def _resting(self, now: dt.datetime) -> dict[str, CrmError]:
        with self._guard:
            rest = dict(self._rest_until)
        return {c: exc for c, (until, exc) in rest.items() if until > now}

    def _agency_down(self, report: PassReport, exc: CrmError, now: dt.datetime) -> PassReport:
        log.warning("agency CRM failed, pass abandoned: %s", exc)
        report.errors[AGENCY] = str(exc)
        with self.store.transaction() as session:
            health.failure(session, AGENCY, type(exc).__name__, str(exc), now)
        return report

    def _cursors(self, live: Sequence[str]) -> dict[str, cursors.Cursor]:
        """The live partners' cursors, in one query: 200 lanes do not each open a
        transaction to read one. None of them can move meanwhile — a partner's cursor
        moves only at the end of its lane, and no lane of these partners is running (a
        partner whose lane is still running is set aside); a cursor another worker moves
        meanwhile is kept (the versioned save)."""
        systems = [self.partners[c].system for c in live]
        with self.store.transaction() as session:
            return cursors.load_many(session, systems)

    def _starts(
        self, live: Sequence[str], now: dt.datetime, *, record: bool
    ) -> dict[str, dt.datetime]:
        """Each live partner's start (its first sync): recorded now if it has none yet,
        unless this is a dry run, which only shows what a first sync would do."""
        with self.store.transaction() as session:
            if record:
                return starts.ensure(session, live, now)
            known = starts.read(session)
        return {c: known.get(c, now) for c in live}

    def _fx_rates(self) -> RateBook:
        return fx_rates(self.store, self.mapping.rates)

    def _echoes(self, codes: Sequence[str]) -> EchoCheck | None:
        """The own-echo test for listed deals, for the partners whose pipeline is known
        (every pass after the first); None before the agency's pipeline is read."""
        if AGENCY not in self._pipelines:
            return None
        known = {c: self._pipelines[c] for c in codes if c in self._pipelines}
        return EchoCheck(self.mapping, self._pipelines[AGENCY], known)

    def _pipeline(self, crm: Crm, code: str | None) -> Any:
        key = code or AGENCY
        with self._guard:
            if key in self._pipelines:
                return self._pipelines[key]
        config = self.mapping.partners[code] if code else self.mapping.agency
        wanted = config.pipeline_id
        source = self.pipelines_from
        cached = source(config.connection) if source is not None else None
        found = next((p for p in cached or () if p.id == wanted), None)
        if found is None:
            found = next((p for p in crm.pipelines() if p.id == wanted), None)
        with self._guard:
            return self._pipelines.setdefault(key, found)

    # --- one partner's lane ------------------------------------------------------
    def _lane(self, code: str, work: _LaneWork) -> _LaneResult:
        """One partner's share of a pass: its poll, plan, writes and records, its cursor,
        hints and health. Runs on a lane thread; its partner calls within its deadline."""
        self.lanes.begin(code)
        try:
            return self._lane_pass(code, work)
        except _Aborted:
            return _LaneResult(code)
        except BaseException:
            work.abort()  # one lane's unexpected error ends the pass: the others stop
            raise
        finally:
            self.lanes.end(code)

    def _lane_pass(self, code: str, work: _LaneWork) -> _LaneResult:
        result = _LaneResult(code)
        now = work.now
        gatherer = self._gatherer()
        polled = work.polls.get(code) if work.later else None
        if work.polling:
            cursor = work.read_cursors.get(self.partners[code].system)
            polled = work.polls[code] = gatherer.poll_partner(code, cursor)
        try:
            shared = work.shared.result()
        except _NoAgency:
            return result  # the agency failed: the pass is abandoned, this lane with it
        work.check()
        try:
            with self.lanes.gate.reading():  # its agency reads go out with the others'
                got = gatherer.lane(code, shared.side, polled, later=work.later)
            if work.polling and polled is not None and polled.window is not None:
                # The later chunks need the partner's listing only for its stamps.
                work.polls[code] = PartnerPoll(dataclasses.replace(polled.window, deals=()))
            if code in got.down:
                raise got.down[code]
            pipeline = self._pipeline(self.partners[code], code)
        except CrmError as exc:
            log.debug("partner %s: set aside this pass: %s", code, exc)
            result.error = exc
            if not work.dry_run:
                self._lane_failed(code, shared.side.got, exc, now, work.routed_to)
            return result
        agency_pipeline = self._pipeline(self.agency, None)
        rates = work.rates(self._fx_rates)
        step = Planning(self.planner, self.mapping, now, agency_pipeline, rates)
        result.plans = step.run(got, [code], {code: pipeline}, shared.starts)
        if work.dry_run:
            return result
        work.check()
        self._carry(result, got, work)
        failed = self._apply_and_record(result, got, now, work)
        result.plans = []  # recorded: only the counts are kept
        if failed is None and not work.later:  # leads come from the partner's window
            failed = self._leads(code, got, now, result)
        if failed is not None:
            result.error = failed
            carried = [r.snapshots[0] for r in result.carried.values()]
            self._lane_failed(code, got, failed, now, work.routed_to, carried)
            return result
        work.check()
        window = None if work.later else got.partner_windows.get(code)
        if window is not None:
            window = dataclasses.replace(window, deals=())  # the cursor needs no deals
        end = _LaneEnd(code, window, tuple(got.hints))
        if not work.hand_over(end):
            self._wrap_up([end], now)  # the pass ended without this lane: on its own
        return result

    def _leads(
        self, code: str, got: Gathered, now: dt.datetime, result: _LaneResult
    ) -> CrmError | None:
        """The leads ``code`` registered for the agency (:mod:`sync.leads`), under the
        handover lock: screened against what every lane hands over."""

        def count(verdict: str) -> None:
            result.verdicts[verdict] = result.verdicts.get(verdict, 0) + 1

        with self._handing_over():
            failed = receive_leads(
                self.store,
                self.mapping,
                self._shared_agency,
                self.partners,
                got,
                [code],
                now,
                count,
                {
                    code: self._pipeline(self.partners[code], code),
                    "": self._pipeline(self.agency, None),
                },
            )
        return failed.get(code)

    @contextlib.contextmanager
    def _handing_over(self) -> Iterator[None]:
        """The handover lock: screening clients, creating and recording them happen for
        one lane at a time — in this process (its lanes) and, on PostgreSQL, across every
        bridge process on the database (partner jobs on other workers), so two partners
        never both take over one client."""
        with self._handover, self.store.exclusive(HANDOVER_LOCK):
            yield

    def _wrap_up(self, ended: Sequence[_LaneEnd], now: dt.datetime) -> None:
        """Lanes that succeeded: their cursors move, their hints are done, their health
        says so — all in one transaction (a cursor another worker moved meanwhile is
        kept: its window covers ours)."""
        self.crash("before_cursor_commit")
        with self.store.transaction() as session:
            self._ended_in(session, ended, now)

    def _ended_in(self, session: Session, ended: Sequence[_LaneEnd], now: dt.datetime) -> None:
        for end in ended:
            if end.window is not None:
                self._advance_in(session, end.window, now)
        inbox_store.done(session, [h for end in ended for h in end.hints])
        health.succeeded(session, [end.code for end in ended], now)

    def _lane_failed(
        self,
        code: str,
        got: Gathered,
        exc: CrmError,
        now: dt.datetime,
        routed_to: str | None,
        carried: Sequence[Deal | None] = (),
    ) -> None:
        """A partner that failed its lane: the agency deals it did not take (``carried``:
        those it brought from the chunk before, too) go back to the inbox, its cursor and
        its hints stay, and its health says why."""
        self._requeue_for_down(got, {code: exc}, routed_to)
        self._requeue_ids([d.id for d in carried if d is not None], routed_to)
        self._rest(code, exc, now)
        with self.store.transaction() as session:
            health.failure(session, code, type(exc).__name__, str(exc), now)
            self._notice_breaker(session, code, now)

    # --- apply and record --------------------------------------------------------
    def _apply_and_record(
        self, result: _LaneResult, got: Gathered, now: dt.datetime, work: _LaneWork
    ) -> CrmError | None:
        """Apply and record one lane's plans; the error its writes failed with, if any.

        Its agency writes (stage/amount write-back, comments) go in one call per kind,
        through the agency's shared lock. A lane with creates holds the handover lock
        from screening them for channel conflicts until they are recorded."""
        creates = any(isinstance(op, CreatePartnerDeal) for p in result.plans for op in p.writes)
        with self._handing_over() if creates else _no_lock():
            return self._write(result, got, now, work)

    def _write(
        self, result: _LaneResult, got: Gathered, now: dt.datetime, work: _LaneWork
    ) -> CrmError | None:
        agency = self._shared_agency
        prints: dict[LinkKey, frozenset[Fingerprint]] = {}  # screened, then recorded
        result.plans, comments = screen_creates(self.store, self.mapping, result.plans, now, prints)
        post_comments(agency, comments)
        writing = [p for p in result.plans if p.writes]
        result.writes = sum(len(p.writes) for p in writing)
        result.written = _written(writing)
        partners = {result.code: self.partners[result.code]}
        outcomes = Applier(self.store, agency, partners, now, self.crash).run(writing)
        self.crash("before_local_commit")
        ledger = LedgerHook(
            self.mapping,
            self._pipeline(self.agency, None),
            work.rates(self._fx_rates),
        )
        recorder = Recorder(
            self.store,
            self.agency.system,
            now,
            ledger,
            self.retry_delay,
            crash=self.crash,
            prints=prints,
        )
        failed: CrmError | None = None
        work.check()
        items = [
            _recording(got, plan, outcomes.get(plan.link_key), result.carried)
            for plan in result.plans
        ]
        verdicts = recorder.commit_many(items)
        for plan, verdict in zip(result.plans, verdicts, strict=True):
            code = plan.link_key[1]
            outcome = outcomes.get(plan.link_key)
            result.verdicts[verdict] = result.verdicts.get(verdict, 0) + 1
            if verdict in (FAILED, PARKED) and outcome is not None and outcome.errors:
                result.errors.setdefault(code, str(outcome.errors[0]))
            if verdict == FAILED and outcome is not None and failed is None:
                failed = outcome.errors[0]
        return failed

    def _finish(
        self,
        window: poll.Window | None,
        agency_hints: Sequence[DueHint],
        set_aside: Mapping[str, CrmError],
        codes: Sequence[str],
        all_partners: bool,
        now: dt.datetime,
        ended: Sequence[_LaneEnd],
    ) -> None:
        """The end of a pass, in one transaction: the lanes that succeeded (their cursors,
        hints and health), the agency's cursor (once every partner's share of its window
        is taken or requeued) and hints, and the set-aside partners' health."""
        self.crash("before_cursor_commit")
        with self.store.transaction() as session:
            self._ended_in(session, ended, now)
            if all_partners and window is not None:
                self._advance_in(session, window, now)
            inbox_store.done(session, agency_hints)
            for code in codes:
                exc = set_aside.get(code)
                if exc is not None and not isinstance(exc, Paused):  # paused: not even tried
                    health.failure(session, code, type(exc).__name__, str(exc), now)
                    self._notice_breaker(session, code, now)
            health.success(session, AGENCY, now)

    def _notice_breaker(self, session: Session, code: str, now: dt.datetime) -> None:
        row = health.partners(session).get(code)
        if row is not None and row.consecutive_failures == BREAKER_AFTER:
            until = breaker_open(row, now)
            log_event(
                log,
                "partner.paused",
                logging.WARNING,
                partner=code,
                failures=row.consecutive_failures,
                error=row.last_error,
                next_try=until.isoformat() if until else None,
            )

    def _advance_in(self, session: Session, window: poll.Window, now: dt.datetime) -> None:
        value = window.watermark
        if window.cursor.value is not None:
            value = max(value, window.cursor.value)
        marks = poll.boundary(window, value, self.overlap)
        # A cursor's first save inserts its row, which another worker may have inserted
        # meanwhile: in a savepoint, so that failure leaves the transaction usable. A
        # later save is one versioned UPDATE, which writes nothing when it conflicts.
        saving = session.begin_nested() if window.cursor.version == 0 else _no_lock()
        try:
            with saving:
                cursors.save(session, window.cursor, value, marks, now)
        except (CursorConflict, IntegrityError) as exc:
            log.info("cursor not advanced: %s", exc)

    def _requeue_for_down(
        self, got: Gathered, down: Mapping[str, CrmError], routed_to: str | None = None
    ) -> None:
        """Agency deals a failed partner could not take go back to the inbox, durably
        (``routed_to``: a partner job's, addressed to that partner again)."""
        if not down:
            return
        ids = set()
        for deal in got.agency_deals.values():
            routed = self.mapping.routed_partners(
                deal.fields.get(self.mapping.agency.routing_field_id)
            )
            codes = {p.code for p in routed} | set(got.links.get(deal.id, {}))
            if codes & set(down):
                ids.add(deal.id)
        self._requeue_ids(ids, routed_to)

    def _requeue_ids(self, ids: Iterable[str], routed_to: str | None) -> None:
        """These agency deals go back to the inbox, durably (``routed_to``: addressed)."""
        now = self.clock()
        hints = [Hint(self.agency.system, i, HintKind.UPDATED, now, "retry") for i in sorted(ids)]
        if hints:
            inbox.record(self.store, hints, self.retry_delay, partner=routed_to)

    def _requeue_carried(self, work: _LaneWork, codes: Set[str]) -> None:
        """The creates these partners carried and no lane of theirs will send go back to
        the inbox before the agency cursor moves past them."""
        with work._lock:
            dropped = [r for c in codes for r in work.carried.pop(c, [])]
        deals = (r.snapshots[0] for r in dropped)
        self._requeue_ids({d.id for d in deals if d is not None}, work.routed_to)

    def _carry(self, result: _LaneResult, got: Gathered, work: _LaneWork) -> None:
        """Chunk to chunk, a partner's creates go in whole requests only.

        The creates the chunk before left over come first (unless this chunk planned
        their deal afresh: a deal listed again holds its newer version). While another
        chunk follows, the creates that would make a part-filled last request (a chunk
        boundary splits a partner's creates) wait for the next chunk's lane; they are
        neither sent nor recorded, so the agency cursor, which moves after the last chunk,
        never passes them, and a crash leaves them as deals not handled yet."""
        code = result.code
        with work._lock:
            brought = work.carried.pop(code, [])
        planned = {p.link_key for p in result.plans}
        kept = [r for r in brought if r.plan.link_key not in planned]
        result.carried = {r.plan.link_key: r for r in kept}
        result.plans = [r.plan for r in kept] + result.plans
        creating = [p for p in result.plans if _creates(p)]
        drafts = [
            op.draft for p in creating for op in p.writes if isinstance(op, CreatePartnerDeal)
        ]
        crm = self.partners[code]
        whole = crm.whole_creates(drafts) if isinstance(crm, CreateBatches) else len(drafts)
        if whole >= len(drafts) or len(drafts) != len(creating) or not work.more.result():
            return
        later = {id(p) for p in creating[whole:]}
        left = [_recording(got, p, None, result.carried) for p in creating[whole:]]
        result.plans = [p for p in result.plans if id(p) not in later]
        with work._lock:
            work.carried[code] = left

    # --- by hand -----------------------------------------------------------------
    def retry(self, link_ids: Sequence[int] | None = None, *, confirm: bool = False) -> int:
        """Queue parked links (all, or these ids) for the next pass; how many were queued.
        ``confirm``: also accept the paid value each of them was parked for."""
        queued = retry_parked(
            self.store, self.agency.system, self.clock(), link_ids, confirm=confirm
        )
        return len(queued)


def retry_parked(
    store: Store,
    agency_system: str,
    now: dt.datetime,
    link_ids: Sequence[int] | None = None,
    *,
    confirm: bool = False,
) -> list[int]:
    """A person asks to retry parked links (all, or these ids): lift their holds and queue
    their agency deals for the next pass. Returns the ids of the links queued.

    ``confirm`` (``bridge retry ID --confirm``): a person vouches for the paid value a
    link was parked for as implausible (:mod:`sync.plan.money`); that exact value is let
    through on the next pass and booked. A different value is checked afresh.
    """
    wanted = None if link_ids is None else set(link_ids)
    with store.transaction() as session:
        chosen = [p for p in links.parked_links(session) if wanted is None or p.id in wanted]
        for link in chosen:
            _release_hold(session, link, now, confirm=confirm)
    hints = [
        Hint(agency_system, p.state.agency_deal_id, HintKind.UPDATED, now, "retry") for p in chosen
    ]
    inbox.record(store, hints, dt.timedelta(0))
    return [p.id for p in chosen]


def breaker_open(health_: PartnerHealth, now: dt.datetime) -> dt.datetime | None:
    """Until when a partner that failed :data:`BREAKER_AFTER` passes in a row is not called.

    The pause doubles with every failed probe (30 s, 1 min, … at most 10 min); the first
    pass that succeeds closes it, and the partner catches up from its cursor and the
    inbox. None while the breaker is closed or its pause is over (time to probe).
    """
    extra = health_.consecutive_failures - BREAKER_AFTER
    if extra < 0 or health_.last_error_at is None:
        return None
    # 2**extra grows without end while a partner keeps failing: cap it before it overflows.
    pause = min(BREAKER_BASE * (2 ** min(extra, 16)), BREAKER_MAX)
    last = health_.last_error_at
    until = (last if last.tzinfo else last.replace(tzinfo=dt.UTC)) + pause
    return until if until > now else None


def _failing(exc: CrmError) -> bool:
    """A partner failing now (reported, exit 1) — not one an admin paused on purpose."""
    return not isinstance(exc, Paused) or isinstance(exc, BreakerOpen)


def _release_hold(session: Session, link: StoredLink, now: dt.datetime, *, confirm: bool) -> None:
    """A person asked to retry: a hold (e.g. duplicate stamps) is lifted, and with
    ``confirm`` the refused paid value is confirmed; the planner decides afresh on the
    next pass."""
    state = link.state
    refused = state.synced.get(REFUSED_KEY)
    confirming = confirm and isinstance(refused, str) and bool(refused)
    if state.hold is None and not confirming:
        return
    synced = {k: v for k, v in state.synced.items() if k != HOLD_KEY}
    if confirming:
        synced[CONFIRM_KEY] = refused
        log_event(
            log,
            "link.confirmed",
            partner=state.partner_code,
            agency_deal=state.agency_deal_id,
            value=str(refused),
        )
        event = AuditEvent(
            at=now,
            agency_deal_id=state.agency_deal_id,
            partner_code=state.partner_code,
            action="confirm",
            field="paid",
            changed_by="person",
            new_value=str(refused),
            detail="a person confirmed the paid value the link was parked for",
        )
        audit.add(session, [event])
    links.save_state(
        session, dataclasses.replace(state, synced=synced), (None, None), now, new=False
    )


class _InLanes(dict[str, Crm]):
    """The partners' CRMs: one stored under a code is put in that code's lane."""

    def __init__(self, lanes: Lanes) -> None:
        super().__init__()
        self._lanes = lanes

    def __setitem__(self, code: str, crm: Crm) -> None:
        super().__setitem__(code, self._lanes.crm(code, crm))

    def update(self, *args: Any, **kwargs: Crm) -> None:
        for code, crm in dict(*args, **kwargs).items():
            self[code] = crm


def _recording(
    got: Gathered,
    plan: LinkPlan,
    outcome: Outcome | None,
    carried: Mapping[LinkKey, Recording] | None = None,
) -> Recording:
    """What to record of ``plan`` (one carried from the chunk before, with the link and
    deals read with it)."""
    brought = (carried or {}).get(plan.link_key)
    if brought is not None and brought.plan is plan:
        return brought._replace(outcome=outcome)
    aid, code = plan.link_key
    stored = got.links.get(aid, {}).get(code)
    return Recording(
        plan, outcome, stored, (got.agency_deals.get(aid), _partner_snapshot(got, code, stored))
    )


def _written(plans: Sequence[LinkPlan]) -> dict[str, int]:
    """Writes planned per side: ``agency`` (write-backs, notes) or the partner's code."""
    counts: dict[str, int] = {}
    for plan in plans:
        for op in plan.writes:
            agency_side = isinstance(op, UpdateDeal | AddNote) and op.side is Side.AGENCY
            key = AGENCY if agency_side else plan.link_key[1]
            counts[key] = counts.get(key, 0) + 1
    return counts


def _creates(plan: LinkPlan) -> bool:
    return any(isinstance(op, CreatePartnerDeal) for op in plan.writes)


def _no_lock() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def _partner_snapshot(got: Gathered, code: str, link: LinkState | None) -> Deal | None:
    if link is None or link.partner_deal_id is None:
        return None
    return got.partner_deals.get(code, {}).get(link.partner_deal_id)


__all__ = ["AGENCY", "Engine", "Outcome", "PassReport", "Planner"]
