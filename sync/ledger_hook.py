"""Feeding the commission ledger from applied plans, inside the plan's own transaction.

After a link's plan is applied, the agency deal as it now stands (stage
semantics, amount, the fee and cumulative "paid" fields the partner's rules
name) is one :class:`~bridge.ledger.DealObservation`; the ledger derives and
books whatever entries follow, exactly once per cause.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from bridge.fx.rates import RateBook
from bridge.ledger import book
from bridge.ledger.observations import observe
from bridge.ledger.rules import DealObservation, kept_notices
from bridge.logs import log_event
from bridge.mapping.compiled import CommissionRule, CompiledMapping, FieldEnd, RuleKind, Target
from bridge.model import Deal, FieldValue, LinkStatus, Money, Pipeline, Semantics
from sync.ledger_fx import with_conversion

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
        code: str,
        status: LinkStatus,
        deal: Deal | None,
        observed_at: dt.datetime,
        now: dt.datetime,
        *,
        deal_id: str | None = None,
        reason: str | None = None,
        partner_deal: Deal | None = None,
    ) -> int:
        """Observe the agency deal of an active link; how many ledger entries were booked.

        A link that just ended — orphaned, or closed for any reason but history — with
        commission booked gets a zero-amount notice that the commission stays
        (:func:`~bridge.ledger.rules.kept_notices`), logged and shown in statements.
        """
        partner = self.mapping.partners.get(code)
        if partner is None or not partner.commission.rules:
            return 0
        if status in _ENDED and deal_id is not None:
            return self._kept(session, code, deal_id, status, now, reason)
        if deal is None or status is not LinkStatus.ACTIVE:
            return 0
        obs = self.observation(deal, code, partner.commission.rules, observed_at)
        obs = with_conversion(obs, deal, partner_deal, self.rates)
        return len(observe(session, obs, partner.commission, now))

    def _kept(
        self,
        session: Session,
        code: str,
        deal_id: str,
        status: LinkStatus,
        now: dt.datetime,
        reason: str | None,
    ) -> int:
        partner = self.mapping.partners[code]
        existing = book.read(session, partner=code, deal_id=deal_id)
        why = "orphaned" if status is LinkStatus.ORPHANED else "closed"
        notices = kept_notices(code, deal_id, why, partner.commission, existing, now)
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
