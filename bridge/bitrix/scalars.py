"""Bitrix24 scalar values ⇄ Python values. Pure, no I/O.

Legacy answers carry scalars as strings, flags as ``Y``/``N``, times as ISO-8601
with the portal's offset and money user fields as ``"300|RUB"``; the universal
API sends JSON numbers. Outbound, every value becomes the exact string a
``batch`` command carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.crm import CodecError
from bridge.model import FieldValue, Money

WireValue = str | list[str]


# --- scalars: wire → model ---------------------------------------------------


def text(value: Any) -> str | None:
    """A string field; JSON null and ``""`` are both "empty"."""
    if value is None or value == "":
        return None
    return str(value)


def link_id(value: Any) -> str | None:
    """A link to another record; legacy uses null, universal uses 0 for "none"."""
    found = text(value)
    return None if found in (None, "0") else found


def decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise CodecError("a flag is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise CodecError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise CodecError(f"not a finite number: {value!r}")
    return result


def flag(value: Any) -> bool:
    """``Y``/``N`` (and the ``1``/``0``/JSON-bool forms custom booleans may take)."""
    if isinstance(value, bool):
        return value
    folded = str(value).strip().upper()
    if folded in ("Y", "1", "TRUE"):
        return True
    if folded in ("N", "0", "FALSE", ""):
        return False
    raise CodecError(f"not a Y/N flag: {value!r}")


def timestamp(value: Any) -> dt.datetime:
    """ISO-8601 with offset → aware UTC. A value without offset is refused."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise CodecError(f"not an ISO-8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise CodecError(f"time without offset: {value!r}")
    return parsed.astimezone(dt.UTC)


def day(value: Any) -> dt.date:
    """A date field; Bitrix24 sends dates back as full datetimes at local midnight."""
    raw = str(value)
    if len(raw) == 10:
        return dt.date.fromisoformat(raw)
    return dt.datetime.fromisoformat(raw).date()


def money(value: Any, default_currency: str | None = None) -> Money | None:
    """A money user field ``"300|RUB"``; ``""``, ``"|RUB"`` and ``"RUB"`` are empty."""
    raw = text(value)
    if raw is None:
        return None
    amount, _, currency = raw.partition("|")
    if not amount or amount.isalpha():
        return None
    currency = currency or (default_currency or "")
    return Money(decimal(amount), currency)


def wire_time(value: dt.datetime) -> str:
    """Aware time → ISO-8601 with offset, whole seconds (Bitrix24's resolution)."""
    if value.tzinfo is None:
        raise CodecError("refusing to send a naive datetime")
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat()


_FORMATS: tuple[tuple[type, Callable[[Any], str]], ...] = (
    (bool, lambda v: "Y" if v else "N"),
    (Money, lambda v: f"{v.amount}|{v.currency}"),
    (Decimal, lambda v: format(v, "f")),
    (dt.datetime, wire_time),
    (dt.date, lambda v: v.isoformat()),
)


def wire_scalar(value: FieldValue) -> str:
    """One model value → the string a command carries. None clears the field."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        raise CodecError("a multiple value needs wire_field")
    for kind, render in _FORMATS:
        if isinstance(value, kind):
            return render(value)
    return str(value)


def wire_field(value: FieldValue) -> WireValue:
    """A custom field value; multiple values become lists of strings."""
    if isinstance(value, tuple):
        return [wire_scalar(v) for v in value] or [""]
    return wire_scalar(value)
