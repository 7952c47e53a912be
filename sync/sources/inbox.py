"""The inbox as the engine sees it: record hints from any source, take the due ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from bridge.model import Hint
from bridge.store import inbox
from bridge.store.db import Store
from bridge.store.inbox import DueHint

DEFAULT_DEBOUNCE = dt.timedelta(seconds=2)


def record(store: Store, hints: Iterable[Hint], debounce: dt.timedelta = DEFAULT_DEBOUNCE) -> int:
    """Store hints durably (webhooks call this before answering 200)."""
    with store.transaction() as session:
        return inbox.add(session, hints, debounce)


def take_due(
    store: Store, now: dt.datetime, systems: Sequence[str] | None = None, limit: int = 5000
) -> list[DueHint]:
    """Hints ready to handle; they stay in the inbox until :func:`finish` is called."""
    with store.transaction() as session:
        return inbox.take(session, now, systems=systems, limit=limit)


def finish(store: Store, handled: Iterable[DueHint]) -> int:
    with store.transaction() as session:
        return inbox.done(session, handled)
