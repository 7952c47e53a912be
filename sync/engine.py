"""One sync pass: hints → fetch in bulk → plan (pure) → apply writes in bulk → record.

The engine gets every dependency injected — store, compiled mapping, the agency
``Crm`` and one ``Crm`` per partner, a clock — so tests run it against fakes or
sandboxes alike. Partners are isolated: one partner's CRM failing (down, rate
limited, unauthorised) is recorded for ``bridge status`` and never stops the
others; deals that could not be handled go back to the inbox, so the cursors
may still advance. Every partner call runs in that partner's lane
(:mod:`sync.lanes`): a partner that does not answer within its deadline fails the
pass alone and is set aside, never waited on, until its call returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import Session

from bridge.crm import Crm, CrmError, RateLimited, Unavailable
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.model import HOLD_KEY, Deal, Hint, HintKind, LinkState
from bridge.store import audit, health, links, starts
from bridge.store.audit import AuditEvent
from bridge.store.cursors import CursorConflict
from bridge.store.db import Store
from bridge.store.health import PartnerHealth
from bridge.store.links import StoredLink
from sync.apply import Applier, Outcome, crash_point
from sync.gather import Gathered, Gatherer
from sync.lanes import Lanes
from sync.ledger_hook import LedgerHook
from sync.plan.money import CONFIRM_KEY, REFUSED_KEY
from sync.plan.types import LinkPlan
from sync.planning import Planner, Planning, default_planner
from sync.rates import fx_rates
from sync.record import APPLIED, FAILED, PARKED, Recorder
from sync.screening import post_comments, screen_creates
from sync.sources import inbox, poll

log = logging.getLogger(__name__)
AGENCY = "agency"
RETRY_DELAY = dt.timedelta(seconds=30)
BREAKER_AFTER = 5  # failed passes in a row before a partner is paused by the bridge
BREAKER_BASE = dt.timedelta(seconds=30)
BREAKER_MAX = dt.timedelta(minutes=10)


class Paused(Unavailable):
    """Not called this pass on purpose: paused in mapping.yaml (not a failure)."""


class BreakerOpen(Paused):
    """Not called this pass: the circuit breaker paused it after repeated failures (a
    failure still, reported as such; it is probed when the pause is over)."""


@dataclass
class PassReport:
    started_at: dt.datetime
    plans: list[LinkPlan] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    # Per partner covered: when the bridge first synced it (a dry run shows this pass's
    # time for a partner never synced, and records nothing).
    starts: dict[str, dt.datetime] = field(default_factory=dict)

    def count(self, verdict: str) -> None:
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1


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
        mirror_notes: bool = False,
        retry_delay: dt.timedelta = RETRY_DELAY,
        lanes: Lanes | None = None,
    ) -> None:
        """``mirror_notes`` reads both sides' notes of every changed, active link (one call
        per deal and side) so the planner can mirror them where the mapping says so.

        ``lanes`` gives every partner call its partner's deadline (:mod:`sync.lanes`;
        by default from ``BRIDGE_PARTNER_DEADLINE`` / ``BRIDGE_PARTNER_PROBE``)."""
        self.lanes = lanes or Lanes()
        self.mirror_notes = mirror_notes
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
        self._pipelines: dict[str, Any] = {}
        self._rest_until: dict[str, tuple[dt.datetime, RateLimited]] = {}

    @property
    def partners(self) -> dict[str, Crm]:
        """The partners' CRMs, each call in its partner's lane."""
        return self._partners

    @partners.setter
    def partners(self, crms: Mapping[str, Crm]) -> None:
        self._partners = _InLanes(self.lanes)
        self._partners.update(crms)

    def update_mapping(self, mapping: CompiledMapping) -> None:
        """A new mapping may fix what parked deals were waiting for: retry them next pass."""
        self.mapping = mapping
        self.retry_parked = True
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
            elif (row := rows.get(code)) is not None and (until := breaker_open(row, now)):
                aside[code] = BreakerOpen(
                    f"partner '{code}' paused by the bridge after {row.consecutive_failures} "
                    f"failed passes ({row.last_error}); next try at {until:%H:%M:%S} UTC",
                    system=code,
                )
        return aside

    # --- the pass ----------------------------------------------------------------
    def sync(
        self, partner: str | None = None, *, dry_run: bool = False, poll: bool = True
    ) -> PassReport:
        """One pass. ``poll=False`` handles due hints only (a webhook burst), no listing."""
        self.lanes.begin_pass()
        try:
            return self._pass(partner, dry_run=dry_run, poll=poll)
        finally:
            self.lanes.end_pass()

    def _pass(self, partner: str | None, *, dry_run: bool, poll: bool) -> PassReport:
        now = self.clock()
        report = PassReport(started_at=now)
        codes = self.codes(partner)
        self.progress("gather")
        resting = {**self._set_aside(codes, now), **self._resting(now)}
        if AGENCY in resting:
            return self._agency_down(report, resting[AGENCY], now)
        try:
            gatherer = Gatherer(
                self.store,
                self.mapping,
                self.agency,
                self.partners,
                self.overlap,
                notes=self.mirror_notes,
            )
            got = gatherer.run(codes, now, parked=self.retry_parked, polling=poll, resting=resting)
            self._pipeline(self.agency, None)
        except CrmError as exc:
            self._rest(AGENCY, exc, now)
            return self._agency_down(report, exc, now)
        self.crash("after_page_fetch")
        # Partners failing this pass: those set aside while gathering, then any that fail
        # later (the gathered snapshot itself is never changed).
        down = {**got.down, **self._partner_pipelines(codes, got)}
        report.errors.update({c: str(e) for c, e in down.items() if _failing(e)})
        self.progress("plan")
        live = [c for c in codes if c not in down]
        report.starts = self._starts(live, now, record=not dry_run)
        report.plans = self._plan(got, live, now, report.starts)
        if dry_run:
            return report
        failed = self._apply_and_record(report, got, now)
        down.update({c: e for c, e in failed.items() if c not in down})
        for code, error in down.items():
            if code not in resting:
                self._rest(code, error, now)
        self._finish(got, down, codes, partner is None, now)
        self.crash("after_local_commit")
        self.retry_parked = False
        return report

    def _rest(self, code: str, exc: CrmError, now: dt.datetime) -> None:
        """A rate-limited account is not called again until its ``retry_after`` has passed.

        Its adapter would otherwise sleep through the pause inside the next call and
        hold up every other partner of that pass.
        """
        if isinstance(exc, RateLimited):
            self._rest_until[code] = (now + dt.timedelta(seconds=exc.retry_after), exc)

    def _resting(self, now: dt.datetime) -> dict[str, CrmError]:
        return {c: exc for c, (until, exc) in self._rest_until.items() if until > now}

    def _agency_down(self, report: PassReport, exc: CrmError, now: dt.datetime) -> PassReport:
        log.warning("agency CRM failed, pass abandoned: %s", exc)
        report.errors[AGENCY] = str(exc)
        with self.store.transaction() as session:
            health.failure(session, AGENCY, type(exc).__name__, str(exc), now)
        return report

    def _plan(
        self,
        got: Gathered,
        live: Sequence[str],
        now: dt.datetime,
        starts: Mapping[str, dt.datetime],
    ) -> list[LinkPlan]:
        rates = fx_rates(self.store, self.mapping.rates)
        step = Planning(self.planner, self.mapping, now, self._pipeline(self.agency, None), rates)
        pipelines = {c: self._pipeline(self.partners[c], c) for c in live}
        return step.run(got, live, pipelines, starts)

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

    def _partner_pipelines(self, codes: Sequence[str], got: Gathered) -> dict[str, CrmError]:
        """Read (once) each live partner's pipeline; the partners whose read failed."""
        failed: dict[str, CrmError] = {}
        for code in codes:
            if code in got.down:
                continue
            try:
                self._pipeline(self.partners[code], code)
            except CrmError as exc:
                failed[code] = exc
        return failed

    def _pipeline(self, crm: Crm, code: str | None) -> Any:
        key = code or AGENCY
        if key not in self._pipelines:
            wanted = (self.mapping.partners[code] if code else self.mapping.agency).pipeline_id
            self._pipelines[key] = next((p for p in crm.pipelines() if p.id == wanted), None)
        return self._pipelines[key]

    # --- apply and record --------------------------------------------------------
    def _apply_and_record(
        self, report: PassReport, got: Gathered, now: dt.datetime
    ) -> dict[str, CrmError]:
        """Apply and record every plan; the partners whose writes failed transiently."""
        report.plans, comments = screen_creates(self.store, self.mapping, report.plans, now)
        post_comments(self.agency, comments)
        writing = [p for p in report.plans if p.writes]
        report.writes = sum(len(p.writes) for p in writing)
        self.progress("apply", 0, report.writes)
        outcomes = Applier(self.store, self.agency, self.partners, now, self.crash).run(writing)
        self.crash("before_local_commit")
        ledger = LedgerHook(
            self.mapping,
            self._pipeline(self.agency, None),
            fx_rates(self.store, self.mapping.rates),
        )
        recorder = Recorder(
            self.store, self.agency.system, now, ledger, self.retry_delay, crash=self.crash
        )
        failed: dict[str, CrmError] = {}
        for done, plan in enumerate(report.plans, 1):
            self.progress("record", done, len(report.plans))
            aid, code = plan.link_key
            outcome = outcomes.get(plan.link_key)
            stored = got.links.get(aid, {}).get(code)
            partner = _partner_snapshot(got, code, stored)
            verdict = recorder.commit(plan, outcome, stored, (got.agency_deals.get(aid), partner))
            report.count(verdict)
            if verdict in (FAILED, PARKED) and outcome is not None and outcome.errors:
                report.errors.setdefault(code, str(outcome.errors[0]))
            if verdict == FAILED and outcome is not None:
                failed.setdefault(code, outcome.errors[0])
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.verdicts.items()))
        log.info("pass applied: %s", counts or f"{APPLIED} 0")
        return failed

    def _finish(
        self,
        got: Gathered,
        down: Mapping[str, CrmError],
        codes: Sequence[str],
        all_partners: bool,
        now: dt.datetime,
    ) -> None:
        self._requeue_for_down(got, down)
        windows = [w for c, w in got.partner_windows.items() if c not in down]
        if all_partners and got.agency_window is not None:
            windows.append(got.agency_window)
        self.crash("before_cursor_commit")
        for window in windows:
            self._advance(window, now)
        systems_down = {self.partners[c].system for c in down if c in self.partners}
        inbox.finish(self.store, [h for h in got.hints if h.hint.system not in systems_down])
        with self.store.transaction() as session:
            for code in codes:
                exc = down.get(code)
                if exc is None:
                    health.success(session, code, now)
                elif not isinstance(exc, Paused):  # a paused partner was not even tried
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

    def _advance(self, window: poll.Window, now: dt.datetime) -> None:
        try:
            poll.commit(self.store, window, now, self.overlap)
        except CursorConflict as exc:
            # Another worker polled this account meanwhile and moved the cursor: its
            # window covers ours, so nothing is lost by keeping its value.
            log.info("cursor not advanced: %s", exc)

    def _requeue_for_down(self, got: Gathered, down: Mapping[str, CrmError]) -> None:
        """Agency deals a failed partner could not take go back to the inbox, durably."""
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
        now = self.clock()
        hints = [Hint(self.agency.system, i, HintKind.UPDATED, now, "retry") for i in sorted(ids)]
        inbox.record(self.store, hints, self.retry_delay)

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
    pause = min(BREAKER_BASE * (2**extra), BREAKER_MAX)
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


def _partner_snapshot(got: Gathered, code: str, link: LinkState | None) -> Deal | None:
    if link is None or link.partner_deal_id is None:
        return None
    return got.partner_deals.get(code, {}).get(link.partner_deal_id)


__all__ = ["AGENCY", "Engine", "Outcome", "PassReport", "Planner"]
