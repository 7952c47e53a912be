"""The conversion an observed agency amount came from, for the ledger to record.

When a partner keeps its own currency, the agency deal's amount is the partner's
amount converted at the admin's rate on the agency deal's date
(:mod:`sync.plan.exchange`). The observation carries that conversion — only when the
agency amount is exactly what the partner's amount converts to, so a ledger entry never
claims a rate its figure did not come from.
"""

from __future__ import annotations

import dataclasses

from bridge.fx.rates import Conversion, RateBook
from bridge.ledger.rules import DealObservation
from bridge.model import Deal


def with_conversion(
    obs: DealObservation, deal: Deal, partner_deal: Deal | None, rates: RateBook
) -> DealObservation:
    """``obs`` with the conversion of ``partner_deal``'s amount into ``deal``'s, if one."""
    agency, partner = deal.amount, partner_deal.amount if partner_deal else None
    if agency is None or partner is None or agency.currency == partner.currency:
        return obs
    conv = rates.convert(partner, agency.currency, deal.created_at.date())
    if not isinstance(conv, Conversion) or conv.result.amount != agency.amount:
        return obs
    return dataclasses.replace(obs, fx=conv)
