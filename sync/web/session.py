"""Signed session cookies and CSRF tokens for the console and the cabinet.

A session is a small JSON payload (who, which partner, key version, expiry, a
random id) with an HMAC-SHA256; nothing about it is stored server-side except
the ids of sessions signed out before they expired. The CSRF token of a form is
an HMAC of the session id, so it cannot be guessed without the key and is
useless with another session. Cookies are HttpOnly, SameSite=Strict, and Secure
whenever the request came over HTTPS (directly or via a proxy's header).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

CONSOLE_COOKIE = "pb_console"
CABINET_COOKIE = "pb_cabinet"
LOGIN_COOKIE = "pb_login"  # a random value the sign-in form's CSRF token is bound to


@dataclass(frozen=True, slots=True)
class Session:
    kind: str  # "console" or "cabinet"
    name: str  # the console user's name, or the partner code
    sid: str
    expires: int  # unix seconds
    partner: str | None = None
    version: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _mac(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())


def new_session(
    kind: str, name: str, now: dt.datetime, lifetime: dt.timedelta, **extra: object
) -> Session:
    expires = int((now + lifetime).timestamp())
    return Session(kind, name, secrets.token_urlsafe(16), expires, **extra)  # type: ignore[arg-type]


def encode(session: Session, key: bytes) -> str:
    body = {
        "k": session.kind,
        "n": session.name,
        "s": session.sid,
        "e": session.expires,
        "p": session.partner,
        "v": session.version,
    }
    payload = _b64(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, 'session', payload)}"


def decode(cookie: str | None, key: bytes, kind: str, now: dt.datetime) -> Session | None:
    """The session in ``cookie`` if its signature, kind and expiry are good; else None."""
    if not cookie:
        return None
    payload, _, mac = cookie.partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(key, "session", payload)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = Session(
            str(body["k"]),
            str(body["n"]),
            str(body["s"]),
            int(body["e"]),
            body["p"],
            int(body["v"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if session.kind != kind or session.expires <= now.timestamp():
        return None
    return session


def csrf_token(key: bytes, bound_to: str) -> str:
    return _mac(key, "csrf", bound_to)


def csrf_ok(key: bytes, bound_to: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), csrf_token(key, bound_to))


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int, path: str
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def clear_cookie(response: Response, request: Request, name: str, path: str) -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="strict", secure=is_https(request)
    )
