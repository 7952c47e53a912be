"""The commission ledger: append-only entries derived from deal histories.

* :mod:`~bridge.ledger.rules` — pure: a link's observed history → entries (exactly-once);
* :mod:`~bridge.ledger.observations` — ``observe()``: what the sync engine calls per change;
* :mod:`~bridge.ledger.book` — booking entries in the store, reading them back;
* :mod:`~bridge.ledger.balances` — balances and FIFO overdue, derived from entries only;
* :mod:`~bridge.ledger.statement` — a partner's statement for a period;
* :mod:`~bridge.ledger.render` — Rich table, CSV, printable HTML (Russian by default).

The tables (``ledger_entry``, ``ledger_observation``) are in :mod:`~bridge.ledger.tables`;
this package imports nothing, so the pure rules load without the database libraries.
"""
