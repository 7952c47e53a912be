"""Open a :class:`Crm` for every connection in a spec (the agency and each partner).

Kept apart from resolution so that tests and the daemon can pass their own
CRMs; only ``bridge check`` and ``bridge init`` open them from the spec.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.crm import Crm
from bridge.mapping.compiled import Connection, CrmKind
from bridge.mapping.spec import MappingSpec

Opener = Callable[[str, Connection], Crm]


class CannotConnect(Exception):
    """This connection cannot be opened by ``bridge check`` (say why, for the admin)."""


def open_crm(label: str, connection: Connection) -> Crm:
    """The real adapter for ``connection``; ``label`` is ``agency`` or a partner code."""
    if connection.kind is CrmKind.BITRIX24:
        from bridge.bitrix.client import BitrixCrm

        return BitrixCrm(connection.url, system=f"bitrix24:{label}")
    from bridge.amocrm.client import AmoCrm
    from bridge.amocrm.oauth import LongLivedToken

    if connection.token is None:
        raise CannotConnect(
            "OAuth connections need the daemon's token store — run 'bridge oauth' first; "
            "checked offline only"
        )
    return AmoCrm(
        connection.url.reveal(), LongLivedToken(connection.token), system=f"amocrm:{label}"
    )


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
