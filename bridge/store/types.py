"""Column types that keep the store's two rules on every database: aware UTC, no floats.

SQLite has no time zone and no exact decimal type, so the conversions happen at
this one edge: datetimes go in as UTC and come back aware; amounts travel as
decimal text; canonical field values travel as tagged JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bridge.model import FieldValue, Money, require_utc


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC in, aware UTC out; naive values are refused, never guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = require_utc(value, "stored datetime")
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal kept as text (SQLite would round-trip NUMERIC through float)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"amounts must be Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def encode_value(value: FieldValue) -> Any:
    """A canonical field value as JSON-safe data; types are tagged so they come back exact."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, Money):
        return {"$money": [str(value.amount), value.currency]}
    if isinstance(value, dt.datetime):
        return {"$dt": require_utc(value, "field value").isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    return {"$tuple": list(value)}


def decode_value(data: Any) -> FieldValue:
    if data is None or isinstance(data, (bool, int, str)):
        return data
    (tag, raw), *_ = data.items()
    decoders: dict[str, Any] = {
        "$dec": Decimal,
        "$money": lambda r: Money(Decimal(r[0]), r[1]),
        "$dt": dt.datetime.fromisoformat,
        "$date": dt.date.fromisoformat,
        "$tuple": lambda r: tuple(str(x) for x in r),
    }
    return decoders[tag](raw)  # type: ignore[no-any-return]


def dump_values(values: dict[str, FieldValue]) -> str:
    return json.dumps(
        {k: encode_value(v) for k, v in sorted(values.items())},
        ensure_ascii=False,
        sort_keys=True,
    )


def load_values(text: str | None) -> dict[str, FieldValue]:
    if not text:
        return {}
    return {k: decode_value(v) for k, v in json.loads(text).items()}


class JsonText(TypeDecorator[Any]):
    """Plain JSON in a TEXT column (same bytes on every database, Cyrillic kept as is)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
