"""``--format table|json`` for the read commands: one JSON document on stdout for scripts.

:func:`jsonable` turns the report values the commands already build (dataclasses,
store rows, Decimal money, aware datetimes, enums) into plain JSON values, so
the JSON output carries the same facts as the table, unrounded: amounts are
strings (``"12.50"``) to keep Decimal precision, times are ISO 8601 UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import PurePath
from typing import Annotated, Any

import typer


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", help="table for people, json for scripts")
]


def jsonable(value: Any) -> Any:  # noqa: PLR0911 - one branch per value kind
    """``value`` as JSON-ready dicts, lists, strings, numbers, booleans and None."""
    if value is None or (
        isinstance(value, (bool, int, float, str)) and not isinstance(value, Enum)
    ):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump())
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, indent=2)


def echo_json(value: Any) -> None:
    """Print ``value`` as one JSON document (Cyrillic kept as is)."""
    typer.echo(dumps(value))
