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
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
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
    if isinstance(statement, Insert) and dialect.name == "sqlite" and names == list(keys):
        processors = [binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
        _insert_in_order(connection, compiled.string, rows, processors)
        return
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
    if isinstance(statement, Insert) and connection.dialect.name == "sqlite":
        _insert_values(connection, compiled.string, params)
    elif compiled.positional:
        connection.exec_driver_sql(compiled.string, params)
    else:
        escaped = [compiled.escaped_bind_names.get(n, n) for n in names]
        named = [dict(zip(escaped, p, strict=True)) for p in params]
        connection.exec_driver_sql(compiled.string, named)


def update_many(
    connection: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    match: Sequence[str],
    where: Mapping[str, Any] | None = None,
) -> None:
    """Update ``table``'s rows found by the ``match`` columns (and the constant ``where``
    columns): each of ``rows`` (values in the order of ``keys``, which name columns)
    sets its other columns. No two rows may match the same stored row."""
    if not rows:
        return
    constant = dict(where or {})
    if connection.dialect.name == "sqlite":
        _update_from_values(connection, table, keys, rows, match, constant)
        return
    renamed = [f"match_{k}" if k in match else f"set_{k}" for k in keys]
    statement = (
        update(table)
        .where(*(table.c[k] == bindparam(f"match_{k}") for k in match))
        .where(*(table.c[k] == v for k, v in constant.items()))
        .values({k: bindparam(f"set_{k}") for k in keys if k not in match})
    )
    execute_tuples(connection, statement, renamed, rows)


# Parameters one multi-row SQLite statement takes at most. SQLite allows 32,766 since
# 3.32, but every distinct statement text stays prepared in its connection's statement
# cache (sqlite3 keeps 128 per connection): one of 30,000 parameters holds megabytes of
# program and bound values, and each lane's connection kept several (a first mirror's
# peak RSS: 178 MB at 10,000 deals with them, 152 MB without). 999 parameters still
# make one statement of a hundred-odd rows.
MAX_VARIABLES = 999


def _variables(connection: Connection) -> int:
    """How many parameters one SQLite statement may have: :data:`MAX_VARIABLES`, or
    fewer where SQLite allows fewer."""
    driver = connection.connection.driver_connection
    limit = getattr(driver, "getlimit", None)
    allowed = int(limit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) if limit else MAX_VARIABLES
    return min(allowed, MAX_VARIABLES)


def _batches(
    connection: Connection, rows: Sequence[Any], width: int, reserved: int = 0
) -> Iterator[Sequence[Any]]:
    """Runs of ``rows`` whose values (``width`` each, and ``reserved`` more) fit one
    statement's parameters."""
    per = max(1, (_variables(connection) - reserved) // max(width, 1))
    for start in range(0, len(rows), per):
        yield rows[start : start + per]


def _insert_values(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """A SQLite insert as ``INSERT … VALUES (…), (…), …``: a statement per few thousand
    rows instead of one per row. (sqlite3's executemany lets go of the GIL around every
    row, and with other lanes busy each row then waits its turn to get it back.)"""
    _insert_flat(connection, sql, list(chain.from_iterable(rows)), len(rows[0]))


def _insert_in_order(
    connection: Connection,
    sql: str,
    rows: Sequence[Sequence[Any]],
    processors: Sequence[Callable[[Any], Any] | None],
) -> None:
    """:func:`_insert_values` for rows already in the statement's column order: one flat
    list of values, each column that converts converted in place as a slice (no
    transposing of every value into columns and back)."""
    width = len(processors)
    flat = list(chain.from_iterable(rows))
    if len(flat) != width * len(rows):
        raise ValueError(f"every row must have {width} values")
    for j, convert in enumerate(processors):
        if convert is not None:
            flat[j::width] = _converted(flat[j::width], convert)
    _insert_flat(connection, sql, flat, width)


def _insert_flat(connection: Connection, sql: str, values: Sequence[Any], width: int) -> None:
    """:func:`_insert_values` for rows given as one flat sequence, ``width`` values each."""
    head, _, group = sql.rpartition(" VALUES ")
    per = max(1, _variables(connection) // max(width, 1))  # rows per statement
    for start in range(0, len(values), per * width):
        batch = tuple(values[start : start + per * width])
        text = f"{head} VALUES {', '.join([group] * (len(batch) // width))}"
        connection.exec_driver_sql(text, batch)


def _update_from_values(
    connection: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    match: Sequence[str],
    constant: Mapping[str, Any],
) -> None:
    """:func:`update_many` on SQLite: ``UPDATE … FROM (VALUES …)``, a statement per few
    thousand rows (see :func:`_insert_values`)."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    value = {k: f"v.column{i}" for i, k in enumerate(keys, start=1)}
    sets = ", ".join(f"{quote(k)} = {value[k]}" for k in keys if k not in match)
    found = [f"{name}.{quote(k)} = {value[k]}" for k in match]
    found += [f"{name}.{quote(k)} = ?" for k in constant]
    columns = list(zip(*rows, strict=True))
    converted = [_for_column(table.c[k].type, dialect, columns[i]) for i, k in enumerate(keys)]
    tail = tuple(_for_column(table.c[k].type, dialect, [v])[0] for k, v in constant.items())
    group = f"({', '.join('?' * len(keys))})"
    converted_rows = list(zip(*converted, strict=True))
    for batch in _batches(connection, converted_rows, len(keys), len(tail)):
        text = (
            # identifiers quoted by the dialect, every value a bound parameter
            f"UPDATE {name} SET {sets} FROM (VALUES {', '.join([group] * len(batch))}) AS v "  # noqa: S608
            f"WHERE {' AND '.join(found)}"
        )
        connection.exec_driver_sql(text, (*chain.from_iterable(batch), *tail))


def _for_column(type_: Any, dialect: Any, values: Sequence[Any]) -> Sequence[Any]:
    convert = type_.dialect_impl(dialect).bind_processor(dialect)
    return values if convert is None else _converted(values, convert)


def _converted(values: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """``convert`` of each value; each distinct datetime converted once (equal datetimes
    are the same instant, and a time is stored as its UTC instant)."""
    if not values:
        return []
    first = values[0]
    if isinstance(first, dt.datetime) and all(v is first for v in values):
        return [convert(first)] * len(values)  # a column of the pass's one ``now``
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
