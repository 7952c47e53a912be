"""Feeding the commission ledger from applied plans, inside the plan's own transaction.

After a link's plan is applied, the link as it now stands is one
:class:`~bridge.ledger.DealObservation`: *its own* outcome and its partner deal's
amount (per-link truth: under fan-out each partner is judged on its own deal), and
the fee and cumulative "paid" fields the partner's rules name, read from the agency
deal. The ledger derives and books whatever entries follow, exactly once per cause.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from bridge.fx.rates import RateBook
from bridge.ledger import book
from bridge.ledger.observations import history, observe
from bridge.ledger.rules import DealObservation, kept_notices
from bridge.logs import log_event
from bridge.mapping.compiled import (
    Commission,
    CommissionRule,
    CompiledMapping,
    FieldEnd,
    RuleKind,
    Target,
)
from bridge.model import Deal, FieldValue, LinkState, LinkStatus, Money, Pipeline, Semantics
from bridge.store import leads
from sync.ledger_fx import with_conversion
from sync.plan.leads import parse_lead_stamp
from sync.plan.money import PAID_KEY

log = logging.getLogger(__name__)
_ENDED = (LinkStatus.ORPHANED, LinkStatus.CLOSED)
FEE_KINDS = {RuleKind.PERCENT_OF_FEE: "fee", RuleKind.PERCENT_OF_PAYMENTS: "paid"}


class LedgerHook:
    def __init__(
        self,
        mapping: CompiledMapping,
        agency_pipeline: Pipeline | None,
        rates: RateBook | None = None,
    ) -> None:
        self.mapping = mapping
        self.pipeline = agency_pipeline
        self.rates = rates or RateBook()

    def __call__(
        self,
        session: Session,
        state: LinkState,
        deals: tuple[Deal | None, Deal | None],
        observed_at: dt.datetime,
        now: dt.datetime,
        *,
        ended: str | None = None,
        rerouted: bool = False,
    ) -> int:
        """Observe one link as it now stands; how many ledger entries were booked.

        ``deals``: the agency deal and the link's partner deal after this pass's writes.
        The link's own outcome (``state.outcome``) and its partner deal's amount drive the
        won-based rules — under fan-out each partner on its own deal, never the shared
        agency deal; fees and payments are read from the agency deal, where they live.

        A parked link still books its payments: the cumulative paid field lives on the
        agency deal, and the planner lets a plausible value through even while the link
        is parked (``@paid``), so a park never loses money silently (docs/money.md).

        A link that just ended — orphaned, or closed for any reason but history — with
        commission booked gets a zero-amount notice that the commission stays
        (:func:`~bridge.ledger.rules.kept_notices`), logged and shown in statements; one
        that was *re-routed* to another partner has its commission taken back instead,
        with ``ended`` ("re-routed to …") as the reason.
        """
        code, status = state.partner_code, state.status
        agency, partner_deal = deals
        known = code in self.mapping.partners
        commission = (
            self._commission(session, code, agency, state.agency_deal_id) if known else None
        )
        if commission is None or not commission.rules:
            return 0
        if rerouted and ended is not None:
            return self._taken_back(session, state, observed_at, now, ended, commission)
        if status in _ENDED and ended is not None:
            return self._kept(session, code, state.agency_deal_id, status, now, ended, commission)
        if status is LinkStatus.PARKED:
            return self._parked(session, state, observed_at, now, commission)
        if agency is None or status is not LinkStatus.ACTIVE:
            return 0
        obs = self.observation(agency, code, commission.rules, observed_at)
        obs = dataclasses.replace(obs, stage=state.outcome or obs.stage)
        obs = with_conversion(obs, agency, partner_deal, self.rates)
        return len(observe(session, obs, commission, now))

    def _commission(
        self, session: Session, code: str, deal: Deal | None, deal_id: str | None
    ) -> Commission:
        """The partner's commission, or its rule for leads it brought: the agency deal's
        stamp says so (``lead:<code>:…``), else the store's record of the lead."""
        partner = self.mapping.partners[code]
        if partner.leads is None:
            return partner.commission
        lead = parse_lead_stamp(deal.stamp) if deal is not None else None
        aid = deal.id if deal is not None else deal_id
        brought = (lead is not None and lead[0] == code) or (
            aid is not None and leads.sourced(session, code, aid)
        )
        return partner.leads.commission if brought else partner.commission

    def _taken_back(
        self,
        session: Session,
        state: LinkState,
        at: dt.datetime,
        now: dt.datetime,
        why: str,
        commission: Commission,
    ) -> int:
        """The deal went to another partner: this link's commission is reversed, with why."""
        code, deal_id = state.partner_code, state.agency_deal_id
        past = history(session, code, deal_id)
        if not past:
            return 0
        last = max(past, key=DealObservation.sort_key)
        when = max(at, last.observed_at)
        obs = dataclasses.replace(last, observed_at=when, ended=why)
        booked = observe(session, obs, commission, now)
        for entry in booked:
            log_event(
                log,
                "ledger.taken_back",
                partner=code,
                agency_deal=deal_id,
                rule=entry.rule,
                amount=f"{entry.amount} {entry.currency}",
                reason=why,
            )
        return len(booked)

    def _parked(
        self,
        session: Session,
        state: LinkState,
        at: dt.datetime,
        now: dt.datetime,
        commission: Commission,
    ) -> int:
        """A parked link: book the payments the agency deal records (the paid value the
        planner let through), with the link's stage and amount as last observed."""
        paid = state.synced.get(PAID_KEY)
        if not isinstance(paid, Money):
            return 0
        code, deal_id = state.partner_code, state.agency_deal_id
        past = history(session, code, deal_id)
        last = max(past, key=DealObservation.sort_key) if past else None
        if last is not None and last.paid == paid and last.ended is None:
            return 0
        obs = DealObservation(
            agency_deal_id=deal_id,
            partner_code=code,
            observed_at=max(at, last.observed_at) if last else at,
            stage=last.stage if last else Semantics.OPEN,
            amount=last.amount if last else None,
            fee=last.fee if last else None,
            paid=paid,
        )
        return len(observe(session, obs, commission, now))

    def _kept(
        self,
        session: Session,
        code: str,
        deal_id: str,
        status: LinkStatus,
        now: dt.datetime,
        reason: str | None,
        commission: Commission,
    ) -> int:
        existing = book.read(session, partner=code, deal_id=deal_id)
        why = "orphaned" if status is LinkStatus.ORPHANED else "closed"
        notices = kept_notices(code, deal_id, why, commission, existing, now)
        for entry in notices:
            log_event(
                log,
                "ledger.commission_kept",
                logging.WARNING,
                partner=code,
                agency_deal=deal_id,
                rule=entry.rule,
                booked=f"{entry.base} {entry.currency}",
                reason=reason,
            )
        return book.append(session, notices, now)

    def observation(
        self,
        deal: Deal,
        code: str,
        rules: tuple[CommissionRule, ...],
        observed_at: dt.datetime,
    ) -> DealObservation:
        sources = {FEE_KINDS[r.kind]: r for r in rules if r.kind in FEE_KINDS and r.source_field}
        extra = {
            name: _money(_read(deal, rule.source_field), rule.currency)
            for name, rule in sources.items()
            if rule.source_field is not None
        }
        return DealObservation(
            agency_deal_id=deal.id,
            partner_code=code,
            observed_at=observed_at,
            stage=self._semantics(deal.stage_id),
            amount=deal.amount,
            fee=extra.get("fee"),
            paid=extra.get("paid"),
        )

    def _semantics(self, stage_id: str) -> Semantics:
        stage = self.pipeline.stage_by_id(stage_id) if self.pipeline else None
        return stage.semantics if stage else Semantics.OPEN


def _read(deal: Deal, end: FieldEnd | None) -> FieldValue:
    if end is None:
        return None
    if end.target is Target.AMOUNT:
        return deal.amount
    if end.target is Target.CUSTOM and end.field_id:
        return deal.fields.get(end.field_id)
    return None


def _money(value: FieldValue, currency: str) -> Money | None:
    if isinstance(value, Money):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal | int):
        return Money(Decimal(value), currency)
    if isinstance(value, str):
        try:
            return Money(Decimal(value.split("|")[0].replace(" ", "")), currency)
        except InvalidOperation:
            return None
    return None
