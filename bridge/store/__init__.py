"""The bridge's local store: links, write intents, cursors, the hint inbox, audit.

Import what you use from the module that defines it: :class:`~bridge.store.db.Store`
(open, migrate, transactions), the tables in :mod:`~bridge.store.tables`, one
module per kind of record (:mod:`~bridge.store.links`, :mod:`~bridge.store.inbox`,
:mod:`~bridge.store.audit`, ...). This package itself imports nothing, so a pure
module can import a light neighbour without loading the database libraries.
"""
