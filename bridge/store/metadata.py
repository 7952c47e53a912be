"""The full metadata the migrations must produce: the store's tables plus its neighbours'.

Every table the Alembic migrations manage is imported here by name, so the list
is explicit and complete wherever :func:`target_metadata` is called; nothing
depends on some other module having been imported first.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from bridge.amocrm.oauth import OAuthToken
from bridge.cabinet.tables import CabinetKeyRow, PayoutRequestRow, SignedOutRow
from bridge.channels.tables import ChannelFlagRow, ChannelHandoverRow
from bridge.digest.tables import DigestNoteRow
from bridge.fx.tables import ExchangeRateRow
from bridge.ledger.tables import LedgerEntryRow, LedgerObservationRow
from bridge.store.tables import (
    AuditRow,
    CursorRow,
    HintRow,
    HookDeliveryRow,
    LinkRow,
    PartnerHealthRow,
    PartnerLeadRow,
    PartnerStartRow,
    ResolutionRow,
    StampSeenRow,
    WriteIntentRow,
)

TABLES: tuple[type[SQLModel], ...] = (
    LinkRow,
    WriteIntentRow,
    CursorRow,
    HintRow,
    AuditRow,
    PartnerHealthRow,
    HookDeliveryRow,
    StampSeenRow,
    PartnerStartRow,
    PartnerLeadRow,
    OAuthToken,
    LedgerEntryRow,
    LedgerObservationRow,
    ChannelHandoverRow,
    ChannelFlagRow,
    DigestNoteRow,
    CabinetKeyRow,
    PayoutRequestRow,
    SignedOutRow,
    ResolutionRow,
    ExchangeRateRow,
)


def target_metadata() -> MetaData:
    """The shared ``SQLModel.metadata``, holding (at least) every table in :data:`TABLES`."""
    missing = [t.__name__ for t in TABLES if t.__tablename__ not in SQLModel.metadata.tables]
    if missing:  # a table class built on another MetaData would silently drop out of migrations
        raise RuntimeError(f"tables not on SQLModel.metadata: {missing}")
    return SQLModel.metadata
