"""Written-value hashes: a stable digest of canonical values, whatever their spelling.

The hash is taken over the lossless JSON of :mod:`bridge.canonical` (the same text
the store keeps ``synced`` in), after equal numbers are given one spelling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal

from bridge.canonical import synced_to_json
from bridge.model import CanonicalValue, Money


def _one_spelling(number: Decimal) -> Decimal:
    return number.normalize() if number else Decimal(0)


def _same_spelling(value: CanonicalValue) -> CanonicalValue:
    """Equal numbers spelled differently (``1.5``/``1.50``) must hash alike."""
    if isinstance(value, Decimal):
        return _one_spelling(value)
    if isinstance(value, Money):
        return Money(_one_spelling(value.amount), value.currency)
    if isinstance(value, tuple):
        return tuple(_same_spelling(v) for v in value)
    return value


def written_hash(values: Mapping[str, CanonicalValue]) -> str:
    """Stable SHA-256 (hex) of canonical values: equal values, equal hash, any order."""
    body = synced_to_json({k: _same_spelling(v) for k, v in values.items()})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
