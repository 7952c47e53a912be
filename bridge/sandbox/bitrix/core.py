"""Shared vocabulary of the Bitrix24 sandbox: errors, results, portal time.

Pure: no I/O. Every other ``sandbox_*`` module speaks in these types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# The portal runs in Europe/Moscow, which has had no DST since 2014: a fixed
# offset keeps the sandbox independent of the host's tz database.
PORTAL_TZ = dt.timezone(dt.timedelta(hours=3), "MSK")
PAGE_SIZE = 50
PORTAL_CURRENCY = "RUB"


class ApiError(Exception):
    """A Bitrix24 error answer: HTTP status, ``error`` code, ``error_description``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


def legacy_error(description: str) -> ApiError:
    """Entity-level errors of the legacy ``crm.*`` methods carry an empty code."""
    return ApiError(400, "", description)


@dataclass(frozen=True, slots=True)
class Result:
    """What a method produced; ``total``/``next`` only for list methods."""

    value: Any
    total: int | None = None
    next: int | None = None


def iso(moment: dt.datetime | None) -> str | None:
    """Portal-local ISO 8601 with offset, second resolution, as Bitrix24 writes it."""
    if moment is None:
        return None
    return moment.astimezone(PORTAL_TZ).replace(microsecond=0).isoformat()


def iso_date(day: dt.date | None) -> str | None:
    """Dates come back as a full datetime at portal midnight."""
    if day is None:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=PORTAL_TZ).isoformat()


def parse_datetime(text: Any) -> dt.datetime | None:
    """Accept the forms clients send: ISO with/without offset, bare date, ``DD.MM.YYYY``."""
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=PORTAL_TZ)
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    for candidate in (raw, _from_russian(raw)):
        if candidate is None:
            continue
        try:
            value = dt.datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=PORTAL_TZ)
    return None


def _from_russian(text: str) -> str | None:
    day, _, rest = text.partition("T")
    parts = day.split(".")
    if len(parts) != 3:
        return None
    return f"{parts[2]}-{parts[1]}-{parts[0]}" + (f"T{rest}" if rest else "")


def parse_date(text: Any) -> dt.date | None:
    moment = parse_datetime(text)
    return None if moment is None else moment.astimezone(PORTAL_TZ).date()


def parse_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        result = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def parse_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def flag(value: Any) -> bool:
    """Y/N, 1/0, true/false as PHP sees them."""
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in {"Y", "1", "TRUE"}


def yn(value: bool) -> str:
    return "Y" if value else "N"


def json_number(value: Decimal | None) -> int | float | None:
    """A Decimal as the JSON number PHP would print (integral → int)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def param(params: dict[str, Any], name: str, default: Any = None) -> Any:
    """Top-level parameter names are case-insensitive for the legacy methods."""
    if name in params:
        return params[name]
    wanted = name.lower()
    for key, value in params.items():
        if key.lower() == wanted:
            return value
    return default
