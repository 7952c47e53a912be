"""Recording one applied plan in one call: the link, its audit events, its intent, a retry.

The sync core decides what an applied plan leaves behind (:class:`AppliedLink`);
:func:`record` writes all of it inside the caller's transaction, so the link's new
state, the trail and the intent's end are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from bridge.model import Deal, Hint, LinkKey, LinkState
from bridge.store import audit, inbox, intents, links
from bridge.store.audit import AuditEvent
from bridge.store.intents import IntentState


@dataclass(frozen=True, slots=True)
class AppliedLink:
    """What one link's plan leaves in the store once its writes were tried.

    ``state`` None stores nothing for the link (its writes failed transiently).
    ``new``: the link was not stored when the pass read it. ``seen`` is each
    side's deal (agency, partner) as it now stands. ``intent``: how the create
    intent ended, if it did (with ``created_id``). ``retry`` goes back to the inbox
    after ``retry_delay``.
    """

    key: LinkKey
    state: LinkState | None
    new: bool
    seen: tuple[Deal | None, Deal | None] = (None, None)
    audit: tuple[AuditEvent, ...] = ()
    intent: IntentState | None = None
    created_id: str | None = None
    retry: Hint | None = None
    retry_delay: dt.timedelta = dt.timedelta(0)


def record(session: Session, applied: AppliedLink, now: dt.datetime) -> None:
    agency_deal_id, partner_code = applied.key
    if applied.state is not None:
        links.save_state(session, applied.state, applied.seen, now, new=applied.new)
        audit.add(session, applied.audit)
        if applied.intent is not None:
            intents.resolve(
                session, partner_code, agency_deal_id, applied.intent, now, applied.created_id
            )
    if applied.retry is not None:
        inbox.add(session, [applied.retry], applied.retry_delay)


def record_many(session: Session, done: Sequence[AppliedLink], now: dt.datetime) -> None:
    """:func:`record` for many links in set-based statements, inside the caller's
    transaction: the links in one flush, the audit rows in one insert, the intents in
    one update, the retries in one inbox call per delay. Each link appears once."""
    stored = [a for a in done if a.state is not None]
    links.save_states(session, [(a.state, a.seen, a.new) for a in stored if a.state], now)
    audit.add_many(session, [event for a in stored for event in a.audit])
    ends = [(a.key[1], a.key[0], a.intent, a.created_id) for a in stored if a.intent is not None]
    intents.resolve_many(session, ends, now)
    retries: dict[dt.timedelta, list[Hint]] = {}
    for a in done:
        if a.retry is not None:
            retries.setdefault(a.retry_delay, []).append(a.retry)
    for delay, hints in retries.items():
        inbox.add(session, hints, delay)
