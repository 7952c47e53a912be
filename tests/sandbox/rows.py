"""Stored rows of the CRM emulators, for tests that look behind their APIs.

The emulators answer ``None`` for an unknown id; a test that reads a row it has just
written wants a failure naming the id instead.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox


def deal_row(bitrix: BitrixSandbox, deal_id: str) -> dict[str, Any]:
    """The portal's stored deal ``deal_id`` (wire field names)."""
    row = bitrix.get_deal(deal_id)
    assert row is not None, f"no deal {deal_id} in the Bitrix24 sandbox"
    return row


def lead_row(amo: AmoSandbox, lead_id: int) -> dict[str, Any]:
    """The account's stored lead ``lead_id`` (wire field names)."""
    row = amo.get_lead(lead_id)
    assert row is not None, f"no lead {lead_id} in the amoCRM sandbox"
    return row
