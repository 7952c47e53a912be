"""What the web pages need from the running bridge, passed in rather than imported.

The daemon builds one :class:`WebContext` (see :mod:`sync.web.wiring`); tests build
their own around a store and a compiled mapping, with no CRM behind it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bridge.cabinet import signouts
from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.secrets import Secret
from bridge.store.db import Store

AGENCY_SYSTEM = "bitrix24:agency"  # how bridge.mapping.connect labels the agency portal

LOGIN_ATTEMPTS = 10  # wrong tokens per client address …
LOGIN_WINDOW = dt.timedelta(minutes=15)  # … within this window, then sign-in waits

StageNames = Mapping[str, Mapping[str, str]]  # "agency" or partner code → stage id → name


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def signing_key(secret_key: Secret | None, admin_token: Secret | None) -> bytes | None:
    """The key that signs sessions and cabinet links: BRIDGE_SECRET_KEY, else one derived
    from BRIDGE_ADMIN_TOKEN (so a single secret is enough); None when neither is set."""
    if secret_key is not None:
        return hashlib.sha256(b"partner-bridge:" + secret_key.reveal().encode()).digest()
    if admin_token is not None:
        return hmac.new(admin_token.reveal().encode(), b"partner-bridge web", "sha256").digest()
    return None


@dataclass(frozen=True, slots=True)
class MappingInfo:
    path: Path | None
    loaded_at: dt.datetime | None
    problems: tuple[str, ...] = ()  # why the newest file was refused, or drift found


@dataclass(frozen=True, slots=True)
class RateBudget:
    """The agency portal's request budget as this process sees it."""

    in_use: float  # 0.0–1.0 of the portal's burst
    requests: int  # sent since start
    waited: float  # seconds spent waiting for the limit since start


@dataclass
class WebContext:
    store: Store
    mapping: Callable[[], CompiledMapping | None]
    admin_token: Secret | None
    key: bytes | None
    clock: Callable[[], dt.datetime] = utcnow
    stage_names: Callable[[], StageNames] = lambda: {}
    mapping_info: Callable[[], MappingInfo] = lambda: MappingInfo(None, None)
    live_failures: Callable[[], Mapping[str, str]] = lambda: {}  # partner code → reason now
    agency_budget: Callable[[], RateBudget | None] = lambda: None
    agency_crm: Callable[[], Crm | None] = lambda: None  # the daemon's own agency adapter
    public_url: str | None = None
    agency_system: str = AGENCY_SYSTEM
    session_hours: int = 8
    _signed_out: set[str] = field(default_factory=set)  # a cache of the store's web_signout
    _failed_logins: dict[str, list[dt.datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign_out(self, session_id: str, kind: str, expires: int) -> None:
        """End a session for good: recorded in the store, so a restart keeps it ended."""
        now = self.clock()
        until = dt.datetime.fromtimestamp(expires, dt.UTC)
        with self.store.transaction() as db:
            signouts.record(db, session_id, kind, until, now)
        with self._lock:
            self._signed_out.add(session_id)

    def is_signed_out(self, session_id: str) -> bool:
        with self._lock:
            if session_id in self._signed_out:
                return True
        with self.store.transaction() as db:
            gone = signouts.is_signed_out(db, session_id)
        if gone:
            with self._lock:
                self._signed_out.add(session_id)
        return gone

    def login_blocked(self, client: str) -> bool:
        """Too many wrong tokens from ``client`` lately: refuse without checking."""
        cutoff = self.clock() - LOGIN_WINDOW
        with self._lock:
            recent = [t for t in self._failed_logins.get(client, []) if t > cutoff]
            self._failed_logins[client] = recent
            return len(recent) >= LOGIN_ATTEMPTS

    def login_failed(self, client: str) -> None:
        with self._lock:
            self._failed_logins.setdefault(client, []).append(self.clock())

    def partner_name(self, code: str) -> str:
        mapping = self.mapping()
        partner = mapping.partners.get(code) if mapping else None
        return partner.name if partner else code

    def partner_codes(self) -> list[str]:
        mapping = self.mapping()
        return sorted(mapping.partners) if mapping else []
