"""The commission ledger: append-only entries derived from deal histories.

* :mod:`~bridge.ledger.rules` — pure: a link's observed history → entries (exactly-once);
* :mod:`~bridge.ledger.observations` — ``observe()``: what the sync engine calls per change;
* :mod:`~bridge.ledger.book` — booking entries in the store, reading them back;
* :mod:`~bridge.ledger.balances` — balances and FIFO overdue, derived from entries only;
* :mod:`~bridge.ledger.statement` — a partner's statement for a period;
* :mod:`~bridge.ledger.render` — Rich table, CSV, printable HTML (Russian by default).

Importing this package registers the ``ledger_entry`` and ``ledger_observation`` tables
on ``SQLModel.metadata``.
"""

from __future__ import annotations

from bridge.ledger.entries import PARTNER_LEVEL, Entry, EntryKind, quantize
from bridge.ledger.rules import DealObservation, entries_for, membership_entries, payout_entry
from bridge.ledger.tables import LedgerEntryRow, LedgerObservationRow

__all__ = [
    "PARTNER_LEVEL",
    "DealObservation",
    "Entry",
    "EntryKind",
    "LedgerEntryRow",
    "LedgerObservationRow",
    "entries_for",
    "membership_entries",
    "payout_entry",
    "quantize",
]
