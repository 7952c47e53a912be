"""Amount precision per CRM, rounded only when the admin says so (``policies.round``). Pure.

amoCRM keeps a lead's budget in whole units; an agency amount with kopecks cannot go
there exactly. By default such a hand-over parks (:mod:`sync.plan.money`: nothing is
rounded silently). With ``policies.round: down`` or ``nearest`` the admin chooses the
partner's copy instead: the partner deal gets the amount rounded to what its CRM keeps
(down: towards zero; nearest: half away from zero, 0.50 → 1), the agency deal keeps its
exact amount, and every rounding written is an audit line (:func:`rounding_entry`) that
names both values. Only the deal amount the agency sends to a partner is rounded; a value
that is too large for the CRM still parks.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from bridge.mapping.compiled import CrmKind, PartnerConfig, Side
from bridge.model import CanonicalValue, LinkKey, Money
from sync.plan.types import AuditEntry

ROUNDED = "rounded"  # the audit action of a rounding


class Rounding(StrEnum):
    PARK = "park"  # the default: an amount the partner's CRM cannot hold parks the link
    DOWN = "down"
    NEAREST = "nearest"


STEP: dict[CrmKind, Decimal] = {
    CrmKind.AMOCRM: Decimal(1),  # a budget is a whole number
    CrmKind.BITRIX24: Decimal("0.01"),  # the bridge carries at most 2 decimals
}
_MODES = {Rounding.DOWN: ROUND_DOWN, Rounding.NEAREST: ROUND_HALF_UP}


def rounding_of(partner: PartnerConfig) -> Rounding:
    """The partner's rounding policy (``park`` unless the mapping says otherwise)."""
    return Rounding(partner.policies.amount_rounding)


def rounded(amount: Decimal, kind: CrmKind, mode: Rounding) -> Decimal:
    """``amount`` at the precision a CRM of ``kind`` keeps, under ``mode`` (park: as is)."""
    if mode is Rounding.PARK:
        return amount
    step = STEP[kind]
    try:
        if amount == amount.quantize(step):
            return amount  # already held exactly: keep its own spelling
        return amount.quantize(step, rounding=_MODES[mode])
    except InvalidOperation:
        return amount  # too many digits to round: the size check parks it


def round_for_partner(partner: PartnerConfig, value: CanonicalValue) -> CanonicalValue:
    """The deal amount as the partner's CRM will hold it under the partner's policy."""
    mode = rounding_of(partner)
    if mode is Rounding.PARK or not isinstance(value, Money):
        return value
    amount = rounded(value.amount, partner.connection.kind, mode)
    return value if amount == value.amount else Money(amount, value.currency)


def rounding_entry(
    key: LinkKey, field: str, partner: PartnerConfig, exact: CanonicalValue, sent: CanonicalValue
) -> AuditEntry | None:
    """The audit line for an amount written to the partner rounded (None: not rounded)."""
    if not isinstance(exact, Money) or not isinstance(sent, Money) or exact == sent:
        return None
    mode = rounding_of(partner)
    how = "down" if mode is Rounding.DOWN else "to the nearest unit"
    crm = "amoCRM" if partner.connection.kind is CrmKind.AMOCRM else "Bitrix24"
    detail = (
        f"agency amount {exact.amount:f} {exact.currency} sent to '{partner.code}' rounded {how}"
        f" to {sent.amount:f} {sent.currency}: {crm} keeps no finer amount "
        f"(policies.round: {mode.value}); the agency deal keeps {exact.amount:f}"
    )
    return AuditEntry(key, field, Side.PARTNER, exact, sent, None, exact, ROUNDED, detail)
