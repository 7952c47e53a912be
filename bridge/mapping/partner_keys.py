"""The programme's time zone and a partner's place in it: ``joined:``, ``segment:``,
``manager:``, ``grade:`` — offline checks, each problem at its line."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from bridge.mapping.compiled import DEFAULT_TIMEZONE, Groups
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import PartnerSpec

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_timezone(value: str | None, path: KeyPath, out: Reporter) -> str:
    """The IANA zone name (default Europe/Moscow); an unknown one is an error at ``path``."""
    if value is None:
        return DEFAULT_TIMEZONE
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        out.error(
            path,
            f"'{value}' is not a time zone — write an IANA name such as Europe/Moscow, "
            "Asia/Almaty or UTC",
        )
        return DEFAULT_TIMEZONE
    return name


def joined_date(value: str | None, path: KeyPath, out: Reporter) -> dt.date | None:
    if value is None:
        return None
    text = value.strip()
    if _ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    out.error(path, f"'{value}' is not a date — write the day the partner joined as YYYY-MM-DD")
    return None


def groups(spec: PartnerSpec, path: KeyPath, out: Reporter) -> Groups:
    values: dict[str, str | None] = {}
    for key in ("segment", "manager", "grade"):
        raw: str | None = getattr(spec, key)
        if raw is not None and not raw.strip():
            out.error((*path, key), f"{key} is empty — write a name or remove the key")
            raw = None
        values[key] = raw.strip() if raw is not None else None
    return Groups(**values)
