"""A stand-in for ``oauth.bitrix.info`` and the portal's OAuth side of ``/rest/``.

``GET /oauth/token/?grant_type=authorization_code|refresh_token&client_id=…&client_secret=…``
answers a token pair. Access tokens live an hour and refresh tokens 180 days on
the sandbox clock; every refresh rotates the pair. REST calls to ``/rest/<method>``
carry the access token as ``auth``. The HTTP statuses of OAuth-server errors are
not documented; the sandbox answers 400 (``invalid_grant``), 401
(``invalid_client``) and 402 (``PAYMENT_REQUIRED``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.bitrix.core import ApiError

ACCESS_TTL = 3600
REFRESH_TTL = 180 * 86400
CODE_TTL = 30


@dataclass(slots=True)
class _Grant:
    user_id: int
    expires_at: float


@dataclass(slots=True)
class OAuthServer:
    client_id: str
    client_secret: str
    member_id: str
    endpoint: Callable[[], str]
    now: Callable[[], float]
    scope: str = "crm,user,event"
    payment_required: bool = False
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _access: dict[str, _Grant] = field(default_factory=dict)
    _refresh: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authorization_code(self, user_id: int) -> str:
        """What the portal appends to the app's redirect URI after the user consents."""
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Grant(user_id, self.now() + CODE_TTL)
        return code

    def token(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("client_id") != self.client_id or not secrets.compare_digest(
            str(params.get("client_secret", "")), self.client_secret
        ):
            raise ApiError(401, "invalid_client", "Invalid client credentials")
        if self.payment_required:
            raise ApiError(402, "PAYMENT_REQUIRED", "Payment required")
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            grant = self._redeem(self._codes, str(params.get("code", "")))
        elif grant_type == "refresh_token":
            grant = self._redeem(self._refresh, str(params.get("refresh_token", "")))
        else:
            raise ApiError(400, "invalid_request", "Unsupported grant_type")
        return self._issue(grant.user_id, with_expiry=grant_type == "refresh_token")

    def _redeem(self, store: dict[str, _Grant], key: str) -> _Grant:
        with self._lock:
            grant = store.pop(key, None)
        if grant is None or grant.expires_at < self.now():
            raise ApiError(400, "invalid_grant", "Invalid grant")
        return grant

    def _issue(self, user_id: int, *, with_expiry: bool) -> dict[str, Any]:
        access, refresh, now = secrets.token_hex(16), secrets.token_hex(16), self.now()
        with self._lock:
            self._access[access] = _Grant(user_id, now + ACCESS_TTL)
            self._refresh[refresh] = _Grant(user_id, now + REFRESH_TTL)
        answer: dict[str, Any] = {
            "access_token": access,
            "client_endpoint": self.endpoint(),
            "domain": "oauth.bitrix.info",
            "expires_in": ACCESS_TTL,
            "member_id": self.member_id,
            "refresh_token": refresh,
            "scope": self.scope,
            "server_endpoint": self.endpoint().replace("/rest/", "/oauth/rest/"),
            "status": "L",
        }
        if with_expiry:
            answer |= {"expires": int(now + ACCESS_TTL), "user_id": user_id}
        return answer

    def event_auth(self, user_id: int) -> list[tuple[str, str]]:
        """The OAuth keys of an app event's ``auth``: a fresh access token for ``user_id``."""
        access, now = secrets.token_hex(16), self.now()
        with self._lock:
            self._access[access] = _Grant(user_id, now + ACCESS_TTL)
        return [
            ("access_token", access),
            ("expires", str(int(now + ACCESS_TTL))),
            ("expires_in", str(ACCESS_TTL)),
            ("scope", self.scope),
            ("server_endpoint", "https://oauth.bitrix.info/rest/"),
            ("status", "L"),
            ("user_id", str(user_id)),
        ]

    def user_for(self, token: Any) -> int:
        """The user an access token acts for, or the 401 a portal answers."""
        with self._lock:
            grant = self._access.get(str(token or ""))
        if grant is None:
            raise ApiError(401, "invalid_token", "Unable to get application by token")
        if grant.expires_at < self.now():
            raise ApiError(401, "expired_token", "The access token provided has expired.")
        return grant.user_id
