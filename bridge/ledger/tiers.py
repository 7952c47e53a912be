"""Progressive commission: a base (and, for period tiers, what came before it) → amount.

Pure. Two modes (``mode:`` in mapping.yaml):

* **marginal** — each slice of the base earns its own tier's percent, like income-tax
  brackets. Tiers 10 % up to 1 000 000 then 15 %: a 1 500 000 deal earns
  10 % × 1 000 000 + 15 % × 500 000 = 175 000.
* **whole** — the whole base earns the percent of the tier it reaches (a bound is
  inclusive: "up to 1 000 000" includes 1 000 000). The same deal earns
  15 % × 1 500 000 = 225 000; a 1 000 000 deal earns 10 % × 1 000 000 = 100 000.

What picks the tier (``tier_by:``):

* ``deal_amount`` — the base itself (the deal amount, fee or cumulative payments).
* ``won_amount`` — the partner's won volume in the period (month/quarter/year, UTC):
  ``prior`` is what its *other* deals won earlier in the period, so the slice
  [prior, prior + base] is rated (marginal), or the tier that prior + base reaches
  rates the whole base (whole).
* ``won_count`` — whole only: the deal that is the partner's n-th win in the period
  earns the tier that n reaches, and so do later ones.

Never retroactive: a deal that lifts the partner into a higher tier does not
re-rate deals booked before it in the period; what they earned stays.

Rounding: the slices are multiplied exactly (``Decimal``), summed, and the sum is
rounded **once**, to the currency's minor unit, half-up (to the kopeck for RUB) —
by the caller, like every commission (:func:`bridge.ledger.entries.quantize`).
:func:`explain` writes the split out for the entry's audit text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bridge.mapping.compiled import Tier, TierBy, TierMode, Tiers

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Prior:
    """The partner's other wins in the period before this one: volume and count."""

    amount: Decimal = ZERO
    count: int = 0


@dataclass(frozen=True, slots=True)
class Slice:
    rate: Decimal
    base: Decimal

    @property
    def amount(self) -> Decimal:
        return self.rate * self.base


def tier_of(tiers: tuple[Tier, ...], position: Decimal) -> Tier:
    """The tier ``position`` falls in (bounds inclusive)."""
    for tier in tiers:
        if tier.up_to is None or position <= tier.up_to:
            return tier
    return tiers[-1]


def slices(tiers: Tiers, base: Decimal, prior: Prior = Prior()) -> list[Slice]:
    """The base split into the parts each rate applies to (exact, unrounded)."""
    if base <= 0:
        return [] if base == 0 else [Slice(tiers.tiers[0].rate, base)]
    if tiers.mode is TierMode.WHOLE:
        if tiers.by is TierBy.WON_COUNT:
            position = Decimal(prior.count + 1)
        elif tiers.by is TierBy.WON_AMOUNT:
            position = prior.amount + base
        else:
            position = base
        return [Slice(tier_of(tiers.tiers, position).rate, base)]
    start = prior.amount if tiers.by is TierBy.WON_AMOUNT else ZERO
    end = start + base
    out: list[Slice] = []
    low = ZERO
    for tier in tiers.tiers:
        high = end if tier.up_to is None else tier.up_to
        part = min(end, high) - max(start, low)
        if part > 0:
            out.append(Slice(tier.rate, part))
        low = high
        if low >= end:
            break
    return out


def commission(tiers: Tiers, base: Decimal, prior: Prior = Prior()) -> Decimal:
    """The exact (unrounded) commission on ``base``."""
    return sum((s.amount for s in slices(tiers, base, prior)), ZERO)


def explain(tiers: Tiers, base: Decimal, prior: Prior, rounded: Decimal, currency: str) -> str:
    """E.g. ``marginal: 10% × 1000000.00 + 15% × 500000.00 = 175000.000 → 175000.00 RUB``."""
    parts = " + ".join(
        f"{(s.rate * 100).normalize():f}% × {s.base:f}" for s in slices(tiers, base, prior)
    )
    exact = commission(tiers, base, prior)
    where = ""
    if tiers.by is TierBy.WON_AMOUNT:
        where = f" after {prior.amount:f} won this {tiers.period}"
    elif tiers.by is TierBy.WON_COUNT:
        where = f" as win #{prior.count + 1} this {tiers.period}"
    text = f"{tiers.mode.value}{where}: {parts or '0'} = {exact:f} → {rounded:f} {currency}"
    return text if len(text) <= 200 else text[:199] + "…"
