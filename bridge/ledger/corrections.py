"""Correcting the ledger without rewriting it: a void appends the entry's exact opposite.

Entries are never updated or deleted. Voiding entry ``N`` books a new entry with
the same partner, deal, rule, currency and payer and the opposite amount, under
the cause ``void:N`` — so voiding twice is a no-op (the cause is booked once),
and the statement shows the void with its reason next to what it cancels.
A payout's void stays a payout (a negative one: the payment did not happen);
any other entry's void is a reversal. A void cannot itself be voided: book the
entry again instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bridge.ledger.entries import Entry, EntryKind

VOID_PREFIX = "void:"
MAX_REASON = 160


class VoidRefused(ValueError):
    """The entry cannot be voided; the message says why and what to do."""


def void_cause(entry_id: int) -> str:
    return f"{VOID_PREFIX}{entry_id}"


def voided_id(entry: Entry) -> int | None:
    """The id of the entry ``entry`` voids, or None if it is not a void."""
    if not entry.cause.startswith(VOID_PREFIX):
        return None
    tail = entry.cause.removeprefix(VOID_PREFIX)
    return int(tail) if tail.isdigit() else None


def void_of(entry_id: int, entry: Entry, reason: str, at: dt.datetime) -> Entry:
    """The entry that cancels ``entry`` (booked as ``entry_id``), dated ``at``."""
    text = " ".join(reason.split())
    if not text:
        raise VoidRefused("--reason is empty: say why the entry is voided")
    if len(text) > MAX_REASON:
        raise VoidRefused(f"--reason is {len(text)} characters; keep it under {MAX_REASON}")
    original = voided_id(entry)
    if original is not None:
        raise VoidRefused(
            f"entry {entry_id} is itself the void of entry {original}; "
            "book the original again instead of voiding the void"
        )
    kind = EntryKind.PAYOUT if entry.kind is EntryKind.PAYOUT else EntryKind.REVERSAL
    return replace(
        entry,
        cause=void_cause(entry_id),
        kind=kind,
        amount=-entry.amount,
        occurred_at=at,
        payable_at=at,
        ref=f"void #{entry_id}: {text}",
    )
