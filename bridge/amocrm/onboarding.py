"""Connecting a partner's amoCRM account: the consent link, then code → stored tokens.

``bridge auth amocrm PARTNER`` prints :func:`consent_url` for the partner's
admin; after they click "Allow", amoCRM redirects to our ``redirect_uri`` with
``?code=...`` (valid 20 minutes, reference §2.1). The code is pasted back (or
the daemon's ``/oauth/amocrm/callback`` receives it) and :func:`complete_grant`
exchanges it and stores the pair, replacing any pair stored before.
:class:`StoredGrant` offers that as the :class:`bridge.crm.OAuthGrant` capability.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

from bridge.amocrm.oauth import OAuthApp, StoredTokens, TokenStore, token_request
from bridge.secrets import Secret


def new_state() -> str:
    """An unguessable ``state`` to tie the redirect back to this request."""
    return secrets.token_urlsafe(16)


def signed_state(app: OAuthApp) -> str:
    """``partner.nonce.mac``: the daemon's callback learns the partner from it and can
    check it came from us (MAC keyed by the integration's secret), with nothing stored."""
    nonce = new_state()
    return f"{app.partner}.{nonce}.{_mac(app.client_secret, app.partner, nonce)}"


def state_partner(state: str, secret_of: Callable[[str], Secret | None]) -> str | None:
    """The partner a signed ``state`` names, or None if it is not one we signed."""
    partner, _, rest = state.partition(".")
    nonce, _, mac = rest.partition(".")
    secret = secret_of(partner) if partner and nonce and mac else None
    if secret is None:
        return None
    return partner if hmac.compare_digest(mac, _mac(secret, partner, nonce)) else None


def _mac(secret: Secret, partner: str, nonce: str) -> str:
    digest = hmac.new(secret.reveal().encode(), f"{partner}.{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def consent_url(app: OAuthApp, *, state: str, consent_base: str | None = None) -> str:
    """The page where the partner's admin grants access.

    Real accounts use ``https://www.amocrm.ru`` (or ``https://www.kommo.com``) as
    ``consent_base``; the sandbox serves the page on its own base URL.
    """
    query = {
        "client_id": app.client_id,
        "state": state,
        "mode": "post_message",
        "redirect_uri": app.redirect_uri,
    }
    return f"{(consent_base or app.base_url).rstrip('/')}/oauth?{urlencode(query)}"


def complete_grant(
    app: OAuthApp, code: str, store: TokenStore, *, now: dt.datetime | None = None
) -> StoredTokens:
    """Exchange an authorization ``code`` for tokens and store them.

    Raises :class:`bridge.crm.AuthError` when amoCRM refuses the code (expired,
    used, wrong integration) and :class:`bridge.crm.TransientError` when the
    token endpoint cannot be reached.
    """
    grant = {"grant_type": "authorization_code", "code": code.strip()}
    tokens = token_request(app, grant, now=now or dt.datetime.now(dt.UTC))
    store.save(tokens)
    return tokens


class StoredGrant:
    """The :class:`bridge.crm.OAuthGrant` of one partner's integration: code → stored pair."""

    def __init__(self, app: OAuthApp, store: TokenStore) -> None:
        self._app = app
        self._store = store

    def __repr__(self) -> str:
        return f"StoredGrant(account={self._app.partner!r})"

    @property
    def account(self) -> str:
        return self._app.partner

    def complete(self, code: str) -> None:
        complete_grant(self._app, code, self._store)


def run_auth(
    app: OAuthApp,
    *,
    db_url: str,
    code: str | None,
    echo: Callable[[str], None],
    ask: Callable[[str], str],
    consent_base: str | None = None,
) -> StoredTokens:
    """``bridge auth amocrm``: show the consent link, take the code, store the tokens."""
    from bridge.amocrm.oauth import SqlTokenStore
    from bridge.store.db import make_engine, migrate

    engine = make_engine(db_url)
    try:
        migrate(engine)
        store = SqlTokenStore(engine, app.partner)
        before = store.load()
        if code is None:
            echo(f"Ask the admin of {app.partner}'s amoCRM account to open and allow:")
            echo(consent_url(app, state=signed_state(app), consent_base=consent_base))
            echo("If `bridge run` serves the redirect URI, it completes the grant by itself.")
            code = ask("Paste the code from the redirect URL (or just Enter once it is done)")
        if code.strip():
            tokens = complete_grant(app, code, store)
        else:
            tokens = _granted_by_daemon(store, before)
    finally:
        engine.dispose()
    until = f"{tokens.expires_at:%Y-%m-%d %H:%M} UTC"
    echo(f"Tokens for {app.partner} stored; the access token is valid until {until}.")
    return tokens


def _granted_by_daemon(store: TokenStore, before: StoredTokens | None) -> StoredTokens:
    from bridge.crm import AuthError

    now = store.load()
    if now is None or now == before:
        raise AuthError("no code was given and the daemon has not stored new tokens yet")
    return now
