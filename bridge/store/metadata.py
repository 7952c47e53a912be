"""The full metadata the migrations must produce: the store's tables plus its neighbours'.

The amoCRM token table, the ledger and the reports' tables live in their own modules;
importing them registers their tables on the shared ``SQLModel.metadata``.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData
from sqlmodel import SQLModel

import bridge.store.tables  # noqa: F401  (registers the store's tables)

NEIGHBOURS = (
    "bridge.amocrm.oauth",
    "bridge.ledger",
    "bridge.channels.tables",
    "bridge.digest.tables",
    "bridge.cabinet.tables",
)


def target_metadata() -> MetaData:
    for module in NEIGHBOURS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return SQLModel.metadata
