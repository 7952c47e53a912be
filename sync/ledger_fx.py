"""The amount a link's won-based rules book, and the conversion it came from.

Each link books on its own partner deal's amount (under fan-out each partner on its own
deal, never the shared agency deal), in the agency deal's currency as always. When a
partner keeps its own currency, its amount is converted at the admin's rate on the
agency deal's date (:mod:`sync.plan.exchange`) and the observation carries that
conversion — only when the booked figure is exactly what the partner's amount converts
to, so a ledger entry never claims a rate its figure did not come from.
"""

from __future__ import annotations

import dataclasses

from bridge.fx.rates import Conversion, RateBook
from bridge.ledger.rules import DealObservation
from bridge.model import Deal


def with_conversion(
    obs: DealObservation, deal: Deal, partner_deal: Deal | None, rates: RateBook
) -> DealObservation:
    """``obs`` with the link's own amount (``partner_deal``'s) in ``deal``'s currency.

    * same currency (or no agency amount): the partner deal's amount, as it stands;
    * the partner's amount converts to the agency's exactly: the agency's, with the
      conversion recorded;
    * the agency's amount converts to the partner's (mirrored the other way, rounded
      in the partner's currency): the agency's, no conversion claimed;
    * otherwise (the partner's own figure, e.g. under fan-out): the partner's amount
      converted, with the conversion; without a rate the agency's amount stands.
    """
    agency, partner = deal.amount, partner_deal.amount if partner_deal else None
    if partner is None:
        return obs
    if agency is None or agency.currency == partner.currency:
        return dataclasses.replace(obs, amount=partner)
    day = deal.created_at.date()
    conv = rates.convert(partner, agency.currency, day)
    if not isinstance(conv, Conversion):
        return obs
    if conv.result.amount == agency.amount:
        return dataclasses.replace(obs, amount=agency, fx=conv)
    back = rates.convert(agency, partner.currency, day)
    if isinstance(back, Conversion) and back.result.amount == partner.amount:
        return obs
    return dataclasses.replace(obs, amount=conv.result, fx=conv)
