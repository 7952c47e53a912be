"""Connecting a partner's amoCRM account: the consent link, then code → stored tokens.

``bridge auth amocrm PARTNER`` prints :func:`consent_url` for the partner's
admin; after they click "Allow", amoCRM redirects to our ``redirect_uri`` with
``?code=...`` (valid 20 minutes, reference §2.1). The code is pasted back (or
the daemon's ``/oauth/amocrm/callback`` receives it) and :func:`complete_grant`
exchanges it and stores the pair, replacing any pair stored before.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

from bridge.amocrm.oauth import OAuthApp, StoredTokens, TokenStore, token_request


def new_state() -> str:
    """An unguessable ``state`` to tie the redirect back to this request."""
    return secrets.token_urlsafe(16)


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

    if code is None:
        echo(f"Ask the admin of {app.partner}'s amoCRM account to open and allow:")
        echo(consent_url(app, state=new_state(), consent_base=consent_base))
        code = ask("Paste the code from the redirect URL")
    engine = make_engine(db_url)
    try:
        migrate(engine)
        tokens = complete_grant(app, code, SqlTokenStore(engine, app.partner))
    finally:
        engine.dispose()
    until = f"{tokens.expires_at:%Y-%m-%d %H:%M} UTC"
    echo(f"Tokens for {app.partner} stored; the access token is valid until {until}.")
    return tokens
