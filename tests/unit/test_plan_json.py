"""Link state JSON: lossless for Decimal, Money, dates, tuples and Cyrillic."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bridge.canonical import synced_from_json, synced_to_json
from bridge.model import CanonicalValue, LinkState, LinkStatus, Money
from sync.plan.values import written_hash


def test_synced_round_trips_exactly() -> None:
    synced: dict[str, CanonicalValue] = {
        "@amount": (Money(Decimal("300000.50"), "RUB"), Money(Decimal("300000.50"), "RUB")),
        "brief": ("Сайт «под ключ»", "Сайт «под ключ»"),
        "kind": (("61", "62"), ("9001", "9002")),
        "deadline": (dt.date(2026, 5, 1), None),
        "at": (dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC), True),
        "rate": Decimal("0.10"),
    }
    text = synced_to_json(synced)
    assert "Сайт «под ключ»" in text  # readable in the store, not \\u-escaped
    back = synced_from_json(text)
    assert back == synced
    assert str(back["rate"]) == "0.10"  # the exact spelling survives
    assert synced_to_json(back) == text


def test_link_state_pair_and_utc() -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))
    state = LinkState(
        "1",
        "atwinta",
        synced={"x": ("a", "b"), "y": "flat"},
        agency_updated_at=dt.datetime(2026, 1, 1, 12, tzinfo=moscow),
    )
    assert state.status is LinkStatus.PENDING_CREATE
    assert state.pair("x") == ("a", "b")
    assert state.pair("y") is None and state.pair("z") is None
    assert state.agency_updated_at == dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        LinkState("1", "a", partner_updated_at=dt.datetime(2026, 1, 1))


def test_bad_json_is_refused() -> None:
    with pytest.raises(ValueError):
        synced_from_json("[1, 2]")
    with pytest.raises(ValueError):
        synced_from_json('{"x": {"$nope": 1}}')
    with pytest.raises(TypeError):
        synced_to_json({"x": 1.5})  # type: ignore[dict-item]


def test_written_hash_treats_equal_numbers_alike() -> None:
    assert written_hash({"x": Decimal("1.5")}) == written_hash({"x": Decimal("1.50")})
    rub = written_hash({"a": Money(Decimal("300"), "RUB")})
    assert rub == written_hash({"a": Money(Decimal("300.00"), "RUB")})
    assert rub != written_hash({"a": Money(Decimal("300"), "USD")})
    assert written_hash({"x": Decimal("0.00")}) == written_hash({"x": Decimal("0")})
