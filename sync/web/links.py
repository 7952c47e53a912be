"""Issuing cabinet links: the URL a partner opens, signed with the bridge's key."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from bridge.cabinet import keys
from bridge.cabinet.signing import CabinetGrant, sign

DEFAULT_DAYS = 30
ENTER_PATH = "/p/enter/"


def cabinet_url(
    db: Session, key: bytes, base_url: str, partner: str, days: int, now: dt.datetime
) -> str:
    """A link that opens ``partner``'s cabinet for ``days`` days (or until revoked)."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    grant = CabinetGrant(partner, keys.current(db, partner), now + dt.timedelta(days=days))
    return f"{base_url.rstrip('/')}{ENTER_PATH}{sign(grant, key)}"


def base_url(public_url: str | None, host: str, port: int) -> str:
    if public_url:
        return public_url.rstrip("/")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"http://{shown}:{port}"
