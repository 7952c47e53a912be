"""One sync pass: hints → fetch in bulk → plan (pure) → apply writes in bulk → record.

The engine gets every dependency injected — store, compiled mapping, the agency
``Crm`` and one ``Crm`` per partner, a clock — so tests run it against fakes or
sandboxes alike. Partners are isolated: one partner's CRM failing (down, rate
limited, unauthorised) is recorded for ``bridge status`` and never stops the
others; deals that could not be handled go back to the inbox, so the cursors
may still advance.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.crm import Crm, CrmError, RateLimited
from bridge.mapping.compiled import CompiledMapping
from bridge.model import Deal, Hint, HintKind
from bridge.store import LinkRow, Store, health, links
from bridge.store.cursors import CursorConflict
from sync.apply import Applier, Outcome, crash_point
from sync.gather import Gathered, Gatherer
from sync.ledger_hook import LedgerHook
from sync.plan.types import LinkPlan
from sync.planning import Planner, Planning, default_planner
from sync.record import APPLIED, FAILED, PARKED, Recorder
from sync.screening import post_comments, screen_creates
from sync.sources import inbox, poll

log = logging.getLogger(__name__)
AGENCY = "agency"
RETRY_DELAY = dt.timedelta(seconds=30)


@dataclass
class PassReport:
    started_at: dt.datetime
    plans: list[LinkPlan] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    errors: dict[str, str] = field(default_factory=dict)

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
    ) -> None:
        """``mirror_notes`` reads both sides' notes of every changed, active link (one call
        per deal and side) so the planner can mirror them where the mapping says so."""
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

    def update_mapping(self, mapping: CompiledMapping) -> None:
        """A new mapping may fix what parked deals were waiting for: retry them next pass."""
        self.mapping = mapping
        self.retry_parked = True
        self._pipelines.clear()  # a stage may have been recreated or renamed

    def codes(self, partner: str | None = None) -> list[str]:
        if partner is not None and partner not in self.mapping.partners:
            raise KeyError(f"unknown partner {partner!r}; known: {sorted(self.mapping.partners)}")
        chosen = [partner] if partner else sorted(self.mapping.partners)
        return [c for c in chosen if c in self.partners and not self.mapping.partners[c].paused]

    # --- the pass ----------------------------------------------------------------
    def sync(
        self, partner: str | None = None, *, dry_run: bool = False, poll: bool = True
    ) -> PassReport:
        """One pass. ``poll=False`` handles due hints only (a webhook burst), no listing."""
        now = self.clock()
        report = PassReport(started_at=now)
        codes = self.codes(partner)
        self.progress("gather")
        resting = self._resting(now)
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
        self._partner_pipelines(codes, got)
        report.errors.update({c: str(e) for c, e in got.down.items()})
        self.progress("plan")
        live = [c for c in codes if c not in got.down]
        report.plans = self._plan(got, live, now)
        if dry_run:
            return report
        self._apply_and_record(report, got, now)
        for code, error in got.down.items():
            if code not in resting:
                self._rest(code, error, now)
        self._finish(got, codes, partner is None, now)
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

    def _plan(self, got: Gathered, live: Sequence[str], now: dt.datetime) -> list[LinkPlan]:
        step = Planning(self.planner, self.mapping, now, self._pipeline(self.agency, None))
        pipelines = {c: self._pipeline(self.partners[c], c) for c in live}
        return step.run(got, live, pipelines)

    def _partner_pipelines(self, codes: Sequence[str], got: Gathered) -> None:
        """Read (once) each live partner's pipeline; a failure sets only that partner aside."""
        for code in codes:
            if code in got.down:
                continue
            try:
                self._pipeline(self.partners[code], code)
            except CrmError as exc:
                got.down[code] = exc

    def _pipeline(self, crm: Crm, code: str | None) -> Any:
        key = code or AGENCY
        if key not in self._pipelines:
            wanted = (self.mapping.partners[code] if code else self.mapping.agency).pipeline_id
            self._pipelines[key] = next((p for p in crm.pipelines() if p.id == wanted), None)
        return self._pipelines[key]

    # --- apply and record --------------------------------------------------------
    def _apply_and_record(self, report: PassReport, got: Gathered, now: dt.datetime) -> None:
        report.plans, comments = screen_creates(self.store, self.mapping, report.plans, now)
        post_comments(self.agency, comments)
        writing = [p for p in report.plans if p.writes]
        report.writes = sum(len(p.writes) for p in writing)
        self.progress("apply", 0, report.writes)
        outcomes = Applier(self.store, self.agency, self.partners, now, self.crash).run(writing)
        self.crash("before_local_commit")
        ledger = LedgerHook(self.mapping, self._pipeline(self.agency, None))
        recorder = Recorder(
            self.store, self.agency.system, now, ledger, self.retry_delay, crash=self.crash
        )
        for done, plan in enumerate(report.plans, 1):
            self.progress("record", done, len(report.plans))
            aid, code = plan.link_key
            outcome = outcomes.get(plan.link_key)
            row = got.links.get(aid, {}).get(code)
            partner = _partner_snapshot(got, code, row)
            verdict = recorder.commit(plan, outcome, row, (got.agency_deals.get(aid), partner))
            report.count(verdict)
            if verdict in (FAILED, PARKED) and outcome is not None and outcome.errors:
                report.errors.setdefault(code, str(outcome.errors[0]))
            if verdict == FAILED and outcome is not None:
                got.down.setdefault(code, outcome.errors[0])
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.verdicts.items()))
        log.info("pass applied: %s", counts or f"{APPLIED} 0")

    def _finish(
        self, got: Gathered, codes: Sequence[str], all_partners: bool, now: dt.datetime
    ) -> None:
        self._requeue_for_down(got)
        windows = [w for c, w in got.partner_windows.items() if c not in got.down]
        if all_partners and got.agency_window is not None:
            windows.append(got.agency_window)
        self.crash("before_cursor_commit")
        for window in windows:
            self._advance(window, now)
        down = {self.partners[c].system for c in got.down}
        inbox.finish(self.store, [h for h in got.hints if h.system not in down])
        with self.store.transaction() as session:
            for code in codes:
                if code in got.down:
                    exc = got.down[code]
                    health.failure(session, code, type(exc).__name__, str(exc), now)
                else:
                    health.success(session, code, now)
            health.success(session, AGENCY, now)

    def _advance(self, window: poll.Window, now: dt.datetime) -> None:
        try:
            poll.commit(self.store, window, now, self.overlap)
        except CursorConflict as exc:
            # Another worker polled this account meanwhile and moved the cursor: its
            # window covers ours, so nothing is lost by keeping its value.
            log.info("cursor not advanced: %s", exc)

    def _requeue_for_down(self, got: Gathered) -> None:
        """Agency deals a failed partner could not take go back to the inbox, durably."""
        if not got.down:
            return
        ids = set()
        for deal in got.agency_deals.values():
            routed = self.mapping.routed_partners(
                deal.fields.get(self.mapping.agency.routing_field_id)
            )
            codes = {p.code for p in routed} | set(got.links.get(deal.id, {}))
            if codes & set(got.down):
                ids.add(deal.id)
        now = self.clock()
        hints = [Hint(self.agency.system, i, HintKind.UPDATED, now, "retry") for i in sorted(ids)]
        inbox.record(self.store, hints, self.retry_delay)

    # --- by hand -----------------------------------------------------------------
    def retry(self, link_ids: Sequence[int] | None = None) -> int:
        """Queue parked links (all, or these ids) for the next pass; how many were queued."""
        with self.store.transaction() as session:
            rows = links.parked(session)
        chosen = [r for r in rows if link_ids is None or r.id in set(link_ids)]
        now = self.clock()
        hints = [
            Hint(self.agency.system, r.agency_deal_id, HintKind.UPDATED, now, "retry")
            for r in chosen
        ]
        inbox.record(self.store, hints, dt.timedelta(0))
        return len(chosen)


def _partner_snapshot(got: Gathered, code: str, row: LinkRow | None) -> Deal | None:
    if row is None or row.partner_deal_id is None:
        return None
    return got.partner_deals.get(code, {}).get(row.partner_deal_id)


__all__ = ["AGENCY", "Engine", "Outcome", "PassReport", "Planner"]
