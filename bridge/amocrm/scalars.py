"""Scalar conversions between amoCRM's wire and the model. Pure functions, no I/O.

Times are Unix seconds on the wire and aware UTC inside; budgets are whole
numbers in the account's currency (amoCRM has no currency per lead); dates in
custom fields arrive as Unix seconds or as ISO strings depending on the doc
revision (reference §7.5) and leave as RFC 3339 like the official SDK sends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.crm import CodecError
from bridge.model import FieldValue, Money

# --- scalars -----------------------------------------------------------------


def from_unix(value: int | float | str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


def to_unix(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise CodecError("refusing a naive datetime")
    return int(value.timestamp())


def price_to_money(lead: Mapping[str, Any], currency: str) -> Money | None:
    """``price_with_minor_units`` wins when present (SDK 2026); ``null`` means no amount."""
    raw = lead.get("price_with_minor_units")
    if raw is None:
        raw = lead.get("price")
    if raw is None:
        return None
    try:
        return Money(Decimal(str(raw)), currency)
    except InvalidOperation as exc:
        raise CodecError(f"price {raw!r} is not a number") from exc


def money_to_price(money: Money, currency: str) -> int:
    """amoCRM stores whole units of the account currency; anything else is refused."""
    if money.currency != currency:
        raise CodecError(f"amount in {money.currency}, account currency is {currency}")
    if money.amount != money.amount.to_integral_value():
        raise CodecError(f"amoCRM budgets are whole numbers, got {money.amount}")
    return int(money.amount)


def to_date(value: Any) -> dt.date:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return from_unix(value).date()
    return dt.date.fromisoformat(str(value)[:10])


def to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return from_unix(value)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def wire_scalar(value: FieldValue) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Money):
        return str(value.amount)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        # The SDK sends dates as RFC 3339 (reference §7.4).
        return dt.datetime.combine(value, dt.time(), dt.UTC).isoformat()
    return str(value)
