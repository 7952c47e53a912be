"""OAuth 2.0 of the sandbox: consent codes, token grants, single-use refresh tokens.

Refresh tokens rotate: each successful ``refresh_token`` grant spends the one
sent and issues a new pair; replaying a spent one gets the 401
``"Token has been revoked"`` body users reported from the real service
(reference §2.3). Access tokens are JWT-shaped (``exp`` readable, signature
meaningless) and expire by the sandbox's :class:`SimClock`. Whether a replay
also revokes the fresh pair is unknown for the real service; here it does not.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.amocrm.http import PROBLEM
from bridge.sandbox.emulator import Response, SimClock

OAUTH_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
BAD_REQUEST = "В запросе отсутствует ряд параметров или параметры невалидны"
CODE_TTL = 20 * 60
REFRESH_TTL = 90 * 86400


class OAuthError(Exception):
    def __init__(self, status: int, title: str, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.hint = status, title, detail, hint

    def response(self) -> Response:
        body: dict[str, Any] = {}
        if self.hint:
            body["hint"] = self.hint
        body.update(title=self.title, type=OAUTH_TYPE, status=self.status, detail=self.detail)
        return Response.json(body, self.status, content_type=PROBLEM)


def _invalid(hint: str, status: int = 400) -> OAuthError:
    return OAuthError(status, "Некорректный запрос", BAD_REQUEST, hint)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenAuthority:
    clock: SimClock
    client_id: str
    client_secret: str
    redirect_uri: str | None  # the integration's registered one
    access_ttl: float
    account_id: int = 0
    api_domain: str = ""
    long_lived: set[str] = field(default_factory=set)
    refresh_grants: int = 0
    code_grants: int = 0
    _codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    _access: dict[str, float] = field(default_factory=dict)
    _refresh: dict[str, float] = field(default_factory=dict)  # live token -> issued at
    _spent: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authorize(self, redirect_uri: str) -> str:
        """The code a user's consent would produce for ``redirect_uri``."""
        code = "def502" + secrets.token_hex(48)
        with self._lock:
            self._codes[code] = (redirect_uri, self.clock.time())
        return code

    def issue(self) -> tuple[str, str]:
        """A fresh (access, refresh) pair."""
        now = self.clock.time()
        access = self._jwt(now)
        refresh = "def502" + secrets.token_hex(64)
        with self._lock:
            self._access[access] = now + self.access_ttl
            self._refresh[refresh] = now
        return access, refresh

    def _jwt(self, now: float) -> str:
        header = {"typ": "JWT", "alg": "RS256"}
        claims = {
            "aud": self.client_id,
            "jti": secrets.token_hex(16),
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + self.access_ttl),
            "sub": "sandbox",
            "account_id": self.account_id,
            "api_domain": self.api_domain,
            "scopes": ["crm", "notifications"],
        }
        parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32)]
        return ".".join(_b64(p) for p in parts)

    def accepts(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header grants API access right now."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        if token in self.long_lived:
            return True
        with self._lock:
            expires = self._access.get(token)
        return expires is not None and self.clock.time() < expires

    def grant(self, body: dict[str, Any]) -> Response:
        """``POST /oauth2/access_token``."""
        try:
            self._check_client(body)
            kind = body.get("grant_type")
            if kind == "authorization_code":
                self._spend_code(body)
            elif kind == "refresh_token":
                self._spend_refresh(body)
            else:
                raise _invalid("Unsupported grant type")
        except OAuthError as error:
            return error.response()
        access, refresh = self.issue()
        payload = {
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
            "server_time": int(self.clock.time()),
            "access_token": access,
            "refresh_token": refresh,
        }
        return Response.json(payload, 200)

    def _check_client(self, body: dict[str, Any]) -> None:
        if (
            body.get("client_id") != self.client_id
            or body.get("client_secret") != self.client_secret
        ):
            raise OAuthError(401, "Некорректный клиент", "Авторизация клиента не прошла")
        if self.redirect_uri is not None and body.get("redirect_uri") != self.redirect_uri:
            raise _invalid("Redirect URI mismatch")

    def _spend_code(self, body: dict[str, Any]) -> None:
        code = str(body.get("code") or "")
        with self._lock:
            issued = self._codes.pop(code, None)
            if issued is None:
                raise _invalid(
                    "Authorization code has been revoked" if code else "Check the `code` parameter"
                )
            redirect_uri, at = issued
            if self.clock.time() - at > CODE_TTL:
                raise _invalid("Authorization code has expired")
            if body.get("redirect_uri") != redirect_uri:
                raise _invalid("Redirect URI mismatch")
            self.code_grants += 1

    def _spend_refresh(self, body: dict[str, Any]) -> None:
        token = str(body.get("refresh_token") or "")
        with self._lock:
            if token in self._spent:
                raise _invalid("Token has been revoked", 401)
            issued = self._refresh.pop(token, None)
            if issued is None:
                raise _invalid("Cannot decrypt the refresh token", 401)
            self._spent.add(token)
            if self.clock.time() - issued > REFRESH_TTL:
                raise _invalid("Token has expired", 401)
            self.refresh_grants += 1

    def revoke_access(self) -> None:
        """Forget every access token (as if all expired); refresh tokens stay live."""
        with self._lock:
            self._access.clear()
