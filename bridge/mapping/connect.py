"""Open a :class:`Crm` for every connection in a spec (the agency and each partner).

Kept apart from resolution so that tests and the daemon can pass their own
CRMs; only ``bridge check`` and ``bridge init`` open them from the spec.
:func:`oauth_grant` is the daemon's way to an :class:`~bridge.crm.OAuthGrant`
without knowing which CRM grants through OAuth.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from bridge.crm import Crm, OAuthGrant
from bridge.mapping.compiled import Connection, CrmKind
from bridge.mapping.spec import MappingSpec

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bridge.amocrm.oauth import OAuthApp, TokenSource
    from bridge.ratelimit import Pacer
    from bridge.secrets import Secret

Opener = Callable[[str, Connection], Crm]
# (account URL, requests per second, burst) → the Pacer every request to that account takes.
PacerSource = Callable[[str, float, int], "Pacer"]


class CannotConnect(Exception):
    """This connection cannot be opened by ``bridge check`` (say why, for the admin)."""


def open_crm(
    label: str,
    connection: Connection,
    *,
    db_url: str | None = None,
    pacers: PacerSource | None = None,
) -> Crm:
    """The real adapter for ``connection``; ``label`` is ``agency`` or a partner code.

    amoCRM OAuth connections read their tokens from the store at ``db_url`` (default:
    the ``BRIDGE_DB_URL`` setting), where ``bridge auth amocrm`` put them. ``pacers``
    (account URL, rate, burst → Pacer) replaces the in-process rate limiters, e.g. by
    budgets shared between processes; by default each process paces on its own.
    """
    if connection.kind is CrmKind.BITRIX24:
        from bridge.bitrix.client import BitrixCrm
        from bridge.bitrix.transport import JITTER_SLOTS, PLANS

        pacer = None
        if pacers is not None:
            rate, burst = PLANS["standard"]
            pacer = pacers(connection.url.reveal(), rate, burst - JITTER_SLOTS)
        return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
    from bridge.amocrm.client import AmoCrm
    from bridge.amocrm.companies import DEFAULT_TAX_FIELD
    from bridge.amocrm.oauth import LongLivedToken

    auth: TokenSource
    if connection.token is not None:
        auth = LongLivedToken(connection.token)
    else:
        auth = _oauth(label, connection, db_url)
    base_url = connection.url.reveal()
    amo_pacer = None
    if pacers is not None:
        from bridge.amocrm.transport import BURST, RATE

        amo_pacer = pacers(base_url, RATE, BURST)
    currency = connection.currency or "RUB"
    return AmoCrm(
        base_url,
        auth,
        system=f"amocrm:{label}",
        pacer=amo_pacer,
        company_tax_field=connection.company_tax_id_field or DEFAULT_TAX_FIELD,
        currency=currency,
    )


def _oauth_app(label: str, connection: Connection) -> OAuthApp | None:
    from bridge.amocrm.oauth import OAuthApp

    if connection.client_id is None or connection.client_secret is None:
        return None
    return OAuthApp(
        label,
        connection.url.reveal(),
        connection.client_id,
        connection.client_secret,
        connection.redirect_uri or "",
    )


def _oauth(label: str, connection: Connection, db_url: str | None) -> TokenSource:
    from bridge.amocrm.oauth import OAuthTokens, SqlTokenStore
    from bridge.config import load_settings
    from bridge.store.db import make_engine

    app = _oauth_app(label, connection)
    if app is None:
        raise CannotConnect("no token and no OAuth client_id/client_secret")
    engine = make_engine(db_url or load_settings().db_url)
    return OAuthTokens(app, SqlTokenStore(engine, label))


def oauth_grant(
    state: str, connections: Mapping[str, Connection], engine: Engine
) -> OAuthGrant | None:
    """The grant a consent redirect completes, or None when ``state`` is not one we signed.

    ``state`` comes from ``bridge auth amocrm`` and names the partner (``connections``
    is keyed by partner code); the tokens go to the store behind ``engine``.
    """
    from bridge.amocrm.oauth import SqlTokenStore
    from bridge.amocrm.onboarding import StoredGrant, state_partner

    def secret_of(code: str) -> Secret | None:
        connection = connections.get(code)
        return connection.client_secret if connection is not None else None

    label = state_partner(state, secret_of)
    app = _oauth_app(label, connections[label]) if label is not None else None
    if label is None or app is None:
        return None
    return StoredGrant(app, SqlTokenStore(engine, label))


def open_all(
    spec: MappingSpec, opener: Opener = open_crm, *, only: Collection[str] | None = None
) -> tuple[dict[str, Crm], dict[str, str]]:
    """CRMs keyed ``agency`` and partner codes (``only`` these partners, if given), and the
    reason for each one not opened."""
    crms: dict[str, Crm] = {}
    failed: dict[str, str] = {}
    wanted = {"agency": spec.agency.connection} | {
        code: p.connection for code, p in spec.partners.items() if only is None or code in only
    }
    for label, connection in wanted.items():
        try:
            crms[label] = opener(label, connection)
        except CannotConnect as exc:
            failed[label] = str(exc)
    return crms, failed


def close_all(crms: dict[str, Crm]) -> None:
    for crm in crms.values():
        crm.close()
