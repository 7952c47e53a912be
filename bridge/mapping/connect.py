"""Open a :class:`Crm` for every connection in a spec (the agency and each partner).

Kept apart from resolution so that tests and the daemon can pass their own
CRMs; only ``bridge check`` and ``bridge init`` open them from the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bridge.crm import Crm
from bridge.mapping.compiled import Connection, CrmKind
from bridge.mapping.spec import MappingSpec

if TYPE_CHECKING:
    from bridge.amocrm.oauth import TokenSource
    from bridge.ratelimit import Pacer

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
        from bridge.bitrix.client import JITTER_SLOTS, PLANS, BitrixCrm

        pacer = None
        if pacers is not None:
            rate, burst = PLANS["standard"]
            pacer = pacers(connection.url.reveal(), rate, burst - JITTER_SLOTS)
        return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
    from bridge.amocrm.client import AmoCrm
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
    return AmoCrm(base_url, auth, system=f"amocrm:{label}", pacer=amo_pacer)


def _oauth(label: str, connection: Connection, db_url: str | None) -> TokenSource:
    from bridge.amocrm.oauth import OAuthApp, OAuthTokens, SqlTokenStore
    from bridge.config import load_settings
    from bridge.store.db import make_engine

    if connection.client_id is None or connection.client_secret is None:
        raise CannotConnect("no token and no OAuth client_id/client_secret")
    app = OAuthApp(
        label,
        connection.url.reveal(),
        connection.client_id,
        connection.client_secret,
        connection.redirect_uri or "",
    )
    engine = make_engine(db_url or load_settings().db_url)
    return OAuthTokens(app, SqlTokenStore(engine, label))


def open_all(spec: MappingSpec, opener: Opener = open_crm) -> tuple[dict[str, Crm], dict[str, str]]:
    """CRMs keyed ``agency`` and partner codes, and the reason for each one not opened."""
    crms: dict[str, Crm] = {}
    failed: dict[str, str] = {}
    wanted = {"agency": spec.agency.connection} | {
        code: p.connection for code, p in spec.partners.items()
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
