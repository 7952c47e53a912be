"""Lossless JSON for canonical values: how a link's ``synced`` map is stored.

Plain JSON would turn ``Decimal("1.10")`` into a float and a tuple into a list, so
non-JSON values are tagged objects: ``{"$dec": "1.10"}``, ``{"$money": ["300.00",
"RUB"]}``, ``{"$date": ...}``, ``{"$dt": ...}``, ``{"$tuple": [...]}``. Text is
written with ``ensure_ascii=False`` so Cyrillic stays readable in the store. The
store (:mod:`bridge.store.links`) persists ``LinkState.synced`` with it; the planner
hashes written values with it (:mod:`sync.plan.values`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge.model import CanonicalValue, Money


def encode_value(value: CanonicalValue) -> Any:
    """``value`` as a JSON-ready structure (see the module docstring for the tags)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, Money):
        return {"$money": [str(value.amount), value.currency]}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(v) for v in value]}
    raise TypeError(f"not a canonical value: {value!r}")


def decode_value(raw: Any) -> CanonicalValue:
    """The inverse of :func:`encode_value`."""
    if raw is None or isinstance(raw, bool | str):
        return raw
    if isinstance(raw, dict) and len(raw) == 1:
        ((tag, body),) = raw.items()
        return _decode_tagged(tag, body)
    raise ValueError(f"not an encoded canonical value: {raw!r}")


def _decode_tagged(tag: str, body: Any) -> CanonicalValue:
    if tag == "$dec":
        return Decimal(body)
    if tag == "$money":
        return Money(Decimal(body[0]), body[1])
    if tag == "$dt":
        return dt.datetime.fromisoformat(body)
    if tag == "$date":
        return dt.date.fromisoformat(body)
    if tag == "$tuple":
        return tuple(decode_value(v) for v in body)
    raise ValueError(f"unknown canonical tag {tag!r}")


def synced_to_json(synced: Mapping[str, CanonicalValue]) -> str:
    """A stable JSON text (sorted keys) for ``LinkState.synced``."""
    body = {
        k: v if v is None or type(v) is str else encode_value(v)  # most values are text
        for k, v in synced.items()
    }
    return _ENCODER.encode(body)


# json.dumps with these options builds a new encoder each call
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def synced_from_json(text: str) -> dict[str, CanonicalValue]:
    """The inverse of :func:`synced_to_json`; exact for Decimal, Money and Cyrillic."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("synced JSON must be an object")
    return {str(k): decode_value(v) for k, v in raw.items()}
