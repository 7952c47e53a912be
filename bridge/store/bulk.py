"""Many rows in one executemany, each column's type conversion run column by column.

SQLAlchemy's own executemany builds a parameter dictionary for every row and runs
every column's bind conversion on every value — at 10,000 links with their audit
rows that was most of the record step's database time (see benchmarks/RESULTS.md).
:func:`execute_many` compiles the statement once, hands the driver plain tuples (or
dictionaries, for a driver with named parameters), converts only the columns whose
type converts, and converts each distinct datetime once: a pass stamps every row
with the same ``now``.

The statement and the conversions are SQLAlchemy's: each column type's own
(:class:`~bridge.store.types.UtcDateTime` refuses a naive time here too). A statement
this cannot run as plain parameters (a column default computed in Python) goes
through SQLAlchemy unchanged.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Delete, Insert, Update

_Statement = Insert | Update | Delete


def execute_many(
    connection: Connection, statement: _Statement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``statement`` once per row of ``rows`` (every row has the same keys)."""
    if rows:
        keys = list(rows[0])
        pick = operator.itemgetter(*keys)
        tuples = [pick(row) for row in rows] if len(keys) > 1 else [(pick(r),) for r in rows]
        execute_tuples(connection, statement, keys, tuples)


def execute_tuples(
    connection: Connection,
    statement: _Statement,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """:func:`execute_many` for rows given as values in the order of ``keys``."""
    if not rows:
        return
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    if compiled.insert_prefetch or compiled.update_prefetch:  # defaults SQLAlchemy computes
        connection.execute(statement, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    names = list(compiled.positiontup or ()) if compiled.positional else list(binds)
    given = list(zip(*rows, strict=True))  # column by column, in the order of keys
    position = {key: i for i, key in enumerate(keys)}
    columns: list[Sequence[Any]] = []
    for name in names:
        bind = binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name not in position:  # a constant of the statement itself
            value = bind.effective_value
            columns.append([convert(value) if convert else value] * len(rows))
        elif convert is None:
            columns.append(given[position[name]])
        else:
            columns.append(_converted(given[position[name]], convert))
    params: list[Any] = list(zip(*columns, strict=True))
    if not compiled.positional:
        escaped = [compiled.escaped_bind_names.get(n, n) for n in names]
        params = [dict(zip(escaped, p, strict=True)) for p in params]
    connection.exec_driver_sql(compiled.string, params)


def _converted(values: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """``convert`` of each value; each distinct datetime converted once (equal datetimes
    are the same instant, and a time is stored as its UTC instant)."""
    if not any(isinstance(v, dt.datetime) for v in values):
        return [convert(v) for v in values]
    once: dict[Any, Any] = {}
    out = []
    for value in values:
        if isinstance(value, dt.datetime):
            found = once.get(value, once)
            if found is once:
                found = once[value] = convert(value)
            out.append(found)
        else:
            out.append(convert(value))
    return out
