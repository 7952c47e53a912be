"""Money that cannot be right is parked, never booked (DESIGN §6): the planner's checks.

Pure. Two kinds of check run on the values a link is about to agree on (the pairs a
create or a mirror would leave on both sides):

* **Amounts a CRM cannot hold exactly** — the deal amount and every money field. A
  value is refused, never rounded, when the CRM on either side would keep another
  number:

  * Bitrix24 keeps ``OPPORTUNITY`` (and money fields) as a double: the bridge carries
    at most :data:`BITRIX_DIGITS` significant digits, at most 2 decimals, below
    10^:data:`BITRIX_DIGITS`;
  * amoCRM keeps a lead's ``price`` as a whole number up to :data:`AMO_MAX_PRICE`.

  A negative deal amount is refused too. The one exception is the admin's choice
  ``policies.round: down|nearest`` (:mod:`sync.plan.rounding`): the agency amount then
  goes to the partner rounded to what its CRM keeps, with an audit line.

* **An implausible cumulative paid field** (the ``paid_field`` of a
  ``percent_of_payments`` rule, read on the agency side after mirroring). Against the
  last paid value the link let through (kept in ``synced`` under :data:`PAID_KEY`,
  which is what the ledger booked from): a value below it, a negative value, or a
  growth of more than ``policies.max_payment_jump`` × the deal amount in one step parks
  the link with the value in the reason. Nothing is mirrored or booked meanwhile. If
  the field is corrected, the next pass goes on by itself; if the value is right after
  all, ``bridge retry ID --confirm`` stores it under :data:`CONFIRM_KEY` and exactly
  that value is let through once. The refused value is kept under :data:`REFUSED_KEY`
  so the confirmation names what was seen, not whatever the field holds later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.mapping.compiled import (
    CommissionRule,
    CrmKind,
    FieldEnd,
    PartnerConfig,
    RuleKind,
    Side,
    Target,
)
from bridge.model import CanonicalValue, Money
from sync.plan.rounding import rounded, rounding_of

PAID_KEY = "@paid"  # the last cumulative paid value let through (what the ledger saw)
REFUSED_KEY = "@refused_paid"  # the paid value the last park refused, as text
CONFIRM_KEY = "@confirm_paid"  # a paid value a person confirmed (bridge retry --confirm)
BITRIX_DIGITS = 15  # significant digits a double keeps exactly
AMO_MAX_PRICE = 2_147_483_647  # amoCRM's price is a whole number (a signed 32-bit int)


def amount_text(value: Decimal) -> str:
    """A number as a person reads it in a reason: ``1 000 000 000``, ``-5 000.5``."""
    sign = "-" if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    frac = frac.rstrip("0")
    return f"{sign}{grouped}.{frac}" if frac else f"{sign}{grouped}"


def _money(value: CanonicalValue) -> Money | None:
    return value if isinstance(value, Money) else None


def unholdable(amount: Decimal, kind: CrmKind, *, is_price: bool) -> str | None:
    """Why a CRM of ``kind`` cannot hold ``amount`` exactly, or None when it can."""
    if kind is CrmKind.AMOCRM:
        return _amo_unholdable(amount) if is_price else None
    if abs(amount) >= Decimal(10) ** BITRIX_DIGITS:
        return f"Bitrix24 keeps an amount as a double: below 10^{BITRIX_DIGITS}"
    if amount != amount.quantize(Decimal("0.01")):
        return "Bitrix24 keeps at most 2 decimals"
    digits = len(amount.normalize().as_tuple().digits) if amount else 0
    if digits > BITRIX_DIGITS:
        return f"Bitrix24 keeps an amount as a double: at most {BITRIX_DIGITS} significant digits"
    return None


def _amo_unholdable(amount: Decimal) -> str | None:
    if amount != amount.to_integral_value():
        return "amoCRM keeps a budget as a whole number"
    if abs(amount) > AMO_MAX_PRICE:
        return f"amoCRM keeps a budget up to {amount_text(Decimal(AMO_MAX_PRICE))}"
    return None


@dataclass(frozen=True, slots=True)
class MoneySlot:
    """A mirrored money value: its name, its two ends, whether it is the deal amount."""

    name: str
    agency: FieldEnd | None
    partner: FieldEnd | None


def amount_reasons(
    partner: PartnerConfig,
    slots: Sequence[MoneySlot],
    pairs: Mapping[str, tuple[CanonicalValue, CanonicalValue]],
) -> tuple[str, ...]:
    """Amounts the link would carry that a side cannot hold exactly, or negative amounts."""
    reasons: list[str] = []
    for slot in slots:
        pair = pairs.get(slot.name)
        if pair is None:
            continue
        for side, end, value in (
            (Side.AGENCY, slot.agency, pair[0]),
            (Side.PARTNER, slot.partner, pair[1]),
        ):
            money = _money(value)
            if money is None or end is None:
                continue
            same_kind = slot.agency is not None and slot.agency.target is end.target
            if side is Side.PARTNER and same_kind and _money(pair[0]) == money:
                continue  # the same value on both sides: said once, for the agency
            is_price = end.target is Target.AMOUNT
            where = _where(partner, side, end)
            if is_price and money.amount < 0:
                reasons.append(
                    f"{where} is {amount_text(money.amount)}: a deal amount cannot be negative"
                    " — correct it in the CRM"
                )
                continue
            own = CrmKind.BITRIX24 if side is Side.AGENCY else partner.connection.kind
            other = partner.connection.kind if side is Side.AGENCY else CrmKind.BITRIX24
            for kind in dict.fromkeys((own, other)):  # its own CRM's limit first
                sent = money.amount
                if is_price and side is Side.AGENCY and kind is not own:
                    # What goes to the partner: rounded when policies.round says so.
                    sent = rounded(sent, kind, rounding_of(partner))
                why = unholdable(sent, kind, is_price=is_price)
                if why is not None:
                    reasons.append(
                        f"{where} is {money.amount:f}: {why}, so the bridge would not carry it"
                        " exactly — correct it in the CRM (nothing is rounded unless"
                        " policies.round says so)"
                    )
                    break
    return tuple(reasons)


def _where(partner: PartnerConfig, side: Side, end: FieldEnd) -> str:
    owner = "agency" if side is Side.AGENCY else f"partner '{partner.code}'"
    what = "deal amount" if end.target is Target.AMOUNT else f"field '{end.label}'"
    return f"the {owner} {what}"


def paid_rule(partner: PartnerConfig) -> CommissionRule | None:
    """The partner's ``percent_of_payments`` rule with a paid field, if any."""
    for rule in partner.commission.rules:
        if rule.kind is RuleKind.PERCENT_OF_PAYMENTS and rule.source_field is not None:
            return rule
    return None


@dataclass(frozen=True, slots=True)
class PaidCheck:
    """The outcome of checking a paid value: a refusal reason, or the value to keep."""

    reason: str | None
    value: Money | None


def check_paid(
    partner: PartnerConfig,
    new: Money | None,
    synced: Mapping[str, CanonicalValue],
    amount: Money | None,
) -> PaidCheck:
    """Whether the cumulative paid value ``new`` may be let through (see the module doc)."""
    old = _money(synced.get(PAID_KEY))
    if new is None or (old is not None and new == old):
        return PaidCheck(None, new if new is not None else old)
    confirmed = synced.get(CONFIRM_KEY)
    if isinstance(confirmed, str) and confirmed == paid_token(new):
        return PaidCheck(None, new)
    reason = _implausible(partner, new, old, amount)
    return PaidCheck(reason, old if reason else new)


def paid_token(value: Money) -> str:
    """How a paid value is kept for a confirmation: ``1000000000 RUB``."""
    number = value.amount.normalize() if value.amount else Decimal(0)
    return f"{number:f} {value.currency}"


def _implausible(
    partner: PartnerConfig, new: Money, old: Money | None, amount: Money | None
) -> str | None:
    label = f"the paid field at '{partner.code}'"
    then = Decimal(0) if old is None else old.amount
    shown = f"{amount_text(new.amount)} {new.currency}"
    advice = f"fix the field, or run 'bridge retry <link id> --confirm' if {shown} is right"
    if new.amount < 0:
        return f"{label} is {shown}: a paid total cannot be negative — {advice}"
    if old is not None and new.currency == old.currency and new.amount < old.amount:
        return (
            f"{label} fell to {amount_text(new.amount)} {new.currency}, below the "
            f"{amount_text(old.amount)} already booked — {advice}"
        )
    factor = partner.policies.max_payment_jump
    if amount is None or amount.amount <= 0:
        return None
    growth = new.amount - then
    if growth > factor * amount.amount:
        return (
            f"{label} jumped to {amount_text(new.amount)} {new.currency} (+{amount_text(growth)}),"
            f" more than {amount_text(factor)} × the deal amount {amount_text(amount.amount)}"
            f" (policies.max_payment_jump) — {advice}"
        )
    return None
