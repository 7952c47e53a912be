"""The bridge's local store: links, write intents, cursors, the hint inbox, audit.

Open it with :meth:`Store.open` (migrates to the newest schema); do every
applied plan inside one :meth:`Store.transaction`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.store.db import current_revision, make_engine, migrate
from bridge.store.tables import (
    AuditRow,
    CursorRow,
    HintRow,
    IntentState,
    LinkRow,
    LinkStatus,
    PartnerHealthRow,
    WriteIntentRow,
)

DEFAULT_URL = "sqlite:///bridge.db"

__all__ = [
    "DEFAULT_URL",
    "AuditRow",
    "CursorRow",
    "HintRow",
    "IntentState",
    "LinkRow",
    "LinkStatus",
    "PartnerHealthRow",
    "Store",
    "WriteIntentRow",
    "current_revision",
    "make_engine",
    "migrate",
]


class Store:
    """A handle on the database. Thread-safe; each transaction gets its own session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str = DEFAULT_URL, *, upgrade: bool = True) -> Store:
        engine = make_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
