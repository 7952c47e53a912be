"""amoCRM credentials: long-lived tokens, and OAuth pairs that rotate on every refresh.

amoCRM refresh tokens are single-use (reference §2.3): whoever sends one first
gets the new pair and everyone else who sends it afterwards gets "Token has been
revoked". So a refresh happens under a database write lock, after re-reading the
stored pair — if the access token there is no longer the one we found stale,
somebody else (another thread, another process) already refreshed and we use
theirs. The new pair is committed before it is used.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import requests
from sqlalchemy import Column, DateTime, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from bridge.crm import AuthError, TransientError
from bridge.secrets import Secret

log = logging.getLogger(__name__)

# Refresh when the access token has less than this left (reference §2.3.6 REC).
REFRESH_AHEAD = dt.timedelta(hours=1)
# Refresh tokens die after 3 months without a refresh (§2.2.2); keep them well alive.
KEEP_ALIVE = dt.timedelta(days=30)
OAUTH_TIMEOUT = 15.0


class TokenSource(Protocol):
    """Where the adapter gets its bearer token, and what it does after a 401."""

    def access_token(self) -> Secret: ...

    def refresh(self, stale: Secret) -> Secret:
        """A token other than ``stale``; raises :class:`AuthError` if there can be none."""
        ...


class LongLivedToken:
    """A private integration's long-lived token: nothing to refresh (reference §2.2.3)."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def access_token(self) -> Secret:
        return self._token

    def refresh(self, stale: Secret) -> Secret:
        raise AuthError(
            "the long-lived token was rejected (expired or revoked): "
            "generate a new one in the integration's keys tab"
        )

    def __repr__(self) -> str:
        return "LongLivedToken(***)"


# --- storage -----------------------------------------------------------------


class OAuthToken(SQLModel, table=True):
    """One partner account's current OAuth pair. ``version`` counts refreshes."""

    __tablename__ = "oauth_token"

    account: str = Field(primary_key=True)
    access_token: str
    refresh_token: str
    expires_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    refreshed_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = 0


@dataclass(frozen=True, slots=True)
class StoredTokens:
    access: Secret
    refresh: Secret
    expires_at: dt.datetime
    refreshed_at: dt.datetime
    version: int = 0

    def due(self, now: dt.datetime) -> bool:
        """Time to refresh: the access token is nearly spent or the grant idles too long."""
        # Short-lived tokens (tests, sandboxes) get a quarter of their life as margin.
        ahead = min(REFRESH_AHEAD, (self.expires_at - self.refreshed_at) / 4)
        return self.expires_at - now < ahead or now - self.refreshed_at > KEEP_ALIVE


Exchange = Callable[[StoredTokens], StoredTokens]


class TokenStore(Protocol):
    def load(self) -> StoredTokens | None: ...

    def save(self, tokens: StoredTokens) -> None: ...

    def rotate(self, stale: Secret, exchange: Exchange) -> StoredTokens:
        """Under an exclusive lock: if the stored access token is still ``stale``, store
        ``exchange(current)``; either way return what is stored afterwards."""
        ...


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands timezone-aware columns back naive; they were written as UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class SqlTokenStore:
    """The ``oauth_token`` row of one account, shared by every process using the database."""

    def __init__(self, engine: Engine, account: str) -> None:
        self._engine = engine
        self.account = account
        self._table: Any = SQLModel.metadata.tables[OAuthToken.__tablename__]

    def __repr__(self) -> str:
        return f"SqlTokenStore(account={self.account!r})"

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.begin()
            raw: Any = conn.connection.dbapi_connection
            if conn.dialect.name == "sqlite" and not raw.in_transaction:
                # Take the write lock up front (the store's engine already does; a plain
                # pysqlite engine would defer it), so no other writer gets in until commit.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            conn.commit()

    def _read(self, conn: Connection, *, for_update: bool) -> StoredTokens | None:
        query = select(self._table).where(self._table.c.account == self.account)
        if for_update and conn.dialect.name != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return StoredTokens(
            access=Secret(row["access_token"]),
            refresh=Secret(row["refresh_token"]),
            expires_at=_utc(row["expires_at"]),
            refreshed_at=_utc(row["refreshed_at"]),
            version=int(row["version"]),
        )

    def _values(self, tokens: StoredTokens) -> dict[str, Any]:
        return {
            "access_token": tokens.access.reveal(),
            "refresh_token": tokens.refresh.reveal(),
            "expires_at": tokens.expires_at,
            "refreshed_at": tokens.refreshed_at,
            "version": tokens.version,
        }

    def load(self) -> StoredTokens | None:
        with self._engine.connect() as conn:
            return self._read(conn, for_update=False)

    def save(self, tokens: StoredTokens) -> None:
        with self._locked() as conn:
            current = self._read(conn, for_update=True)
            values = self._values(tokens)
            if current is None:
                conn.execute(self._table.insert().values(account=self.account, **values))
            else:
                values["version"] = current.version + 1
                where = self._table.c.account == self.account
                conn.execute(update(self._table).where(where).values(**values))

    def rotate(self, stale: Secret, exchange: Exchange) -> StoredTokens:
        with self._locked() as conn:
            current = self._read(conn, for_update=True)
            if current is None:
                raise AuthError(f"no OAuth tokens stored for {self.account}")
            if current.access != stale:
                return current
            fresh = replace(exchange(current), version=current.version + 1)
            where = self._table.c.account == self.account
            conn.execute(update(self._table).where(where).values(**self._values(fresh)))
            return fresh


class MemoryTokenStore:
    """The same contract within one process; for tests and one-off tools."""

    def __init__(self, tokens: StoredTokens | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def load(self) -> StoredTokens | None:
        with self._lock:
            return self._tokens

    def save(self, tokens: StoredTokens) -> None:
        with self._lock:
            self._tokens = tokens

    def rotate(self, stale: Secret, exchange: Exchange) -> StoredTokens:
        with self._lock:
            if self._tokens is None:
                raise AuthError("no OAuth tokens stored")
            if self._tokens.access == stale:
                self._tokens = replace(exchange(self._tokens), version=self._tokens.version + 1)
            return self._tokens


# --- the token endpoint ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """One partner's integration: where its account lives and how we identify ourselves."""

    partner: str
    base_url: str
    client_id: str
    client_secret: Secret
    redirect_uri: str


def _reauthorize(partner: str, why: str) -> AuthError:
    return AuthError(
        f"amoCRM access for partner {partner!r} is gone ({why}); "
        f"re-run `bridge auth amocrm {partner}` to grant it again",
        system=f"amocrm:{partner}",
        code="reauthorize",
    )


def token_request(app: OAuthApp, grant: dict[str, str], *, now: dt.datetime) -> StoredTokens:
    """``POST /oauth2/access_token``; a rejected grant is an :class:`AuthError`."""
    body = {
        "client_id": app.client_id,
        "client_secret": app.client_secret.reveal(),
        "redirect_uri": app.redirect_uri,
        **grant,
    }
    url = f"{app.base_url.rstrip('/')}/oauth2/access_token"
    try:
        response = requests.post(url, json=body, timeout=OAUTH_TIMEOUT)
    except requests.RequestException as exc:
        # The server may have rotated the pair already; nothing we can do but say so.
        raise TransientError(
            f"token endpoint unreachable: {type(exc).__name__}", system=f"amocrm:{app.partner}"
        ) from None
    if response.status_code in (400, 401, 403):
        raise _reauthorize(app.partner, f"token endpoint answered {response.status_code}")
    if response.status_code != 200:
        raise TransientError(
            f"token endpoint answered {response.status_code}", system=f"amocrm:{app.partner}"
        )
    payload = response.json()
    return StoredTokens(
        access=Secret(str(payload["access_token"])),
        refresh=Secret(str(payload["refresh_token"])),
        expires_at=now + dt.timedelta(seconds=int(payload.get("expires_in", 86400))),
        refreshed_at=now,
    )


Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OAuthTokens:
    """A :class:`TokenSource` over a :class:`TokenStore`; refreshes once across processes."""

    def __init__(self, app: OAuthApp, store: TokenStore, *, clock: Clock = _utcnow) -> None:
        self._app = app
        self._store = store
        self._clock = clock
        self.refreshes = 0  # refresh grants this object sent, for metrics and tests
        self._cached: StoredTokens | None = None

    def __repr__(self) -> str:
        return f"OAuthTokens(partner={self._app.partner!r})"

    def access_token(self) -> Secret:
        # The pair is cached; the database is read again only when it looks due, and
        # a 401 (another process rotated it) comes back through refresh().
        now = self._clock()
        tokens = self._cached
        if tokens is None or tokens.due(now):
            tokens = self._cached = self._store.load()
        if tokens is None:
            raise _reauthorize(self._app.partner, "no tokens stored")
        if tokens.due(now):
            return self.refresh(tokens.access)
        return tokens.access

    def refresh(self, stale: Secret) -> Secret:
        tokens = self._store.rotate(stale, self._exchange)
        self._cached = tokens
        return tokens.access

    def _exchange(self, current: StoredTokens) -> StoredTokens:
        self.refreshes += 1
        log.info("amocrm.oauth.refresh partner=%s", self._app.partner)
        grant = {"grant_type": "refresh_token", "refresh_token": current.refresh.reveal()}
        return token_request(self._app, grant, now=self._clock())
