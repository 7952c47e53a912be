"""Signed, expiring cabinet links: ``code.version.expiry`` plus an HMAC-SHA256 of it.

The token names the partner, its key version at issue time and when it stops
working. :func:`verify` tells a tampered token from an expired or a revoked one,
so the page can say which; none of them opens anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum


class LinkProblem(StrEnum):
    TAMPERED = "tampered"
    EXPIRED = "expired"
    REVOKED = "revoked"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CabinetGrant:
    partner_code: str
    version: int
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"cabinet-link:" + payload.encode(), hashlib.sha256).digest())


def sign(grant: CabinetGrant, key: bytes) -> str:
    payload = _b64(
        f"{grant.partner_code}.{grant.version}.{int(grant.expires_at.timestamp())}".encode()
    )
    return f"{payload}.{_mac(key, payload)}"


def verify(token: str, key: bytes, current_version: int | None, now: dt.datetime) -> CabinetGrant:
    """The grant in ``token``; raises :class:`LinkRefused` saying why it is not valid.

    ``current_version`` is the partner's key version in the store (None: unknown partner).
    """
    payload, _, mac = token.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(key, payload)):
        raise LinkRefused(LinkProblem.TAMPERED)
    try:
        code, version, expires = _unb64(payload).decode().rsplit(".", 2)
        grant = CabinetGrant(code, int(version), dt.datetime.fromtimestamp(int(expires), dt.UTC))
    except ValueError:
        raise LinkRefused(LinkProblem.TAMPERED) from None
    if current_version is None or grant.version != current_version:
        raise LinkRefused(LinkProblem.REVOKED)
    if grant.expires_at <= now:
        raise LinkRefused(LinkProblem.EXPIRED)
    return grant
