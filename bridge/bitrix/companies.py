"""A company's ИНН on Bitrix24: it lives in the company's requisites, not on the company.

Pure. Reads: :func:`requisite_query` asks ``crm.requisite.list`` for the requisites
of 25 companies at once (``ENTITY_TYPE_ID`` 4, ``@ENTITY_ID``), sent in the
same ``batch`` as the ``crm.company.list`` commands, and :func:`tax_ids` keeps, per
company, the ИНН of its first requisite (by ``SORT``, then ``ID``) that has one.
Writes: :func:`encode_tax_id` is the ``crm.requisite.add`` fields for a new company
(``PRESET_ID`` from :func:`pick_preset`, the portal's "Организация" template for a
10-digit ИНН, "ИП" for a 12-digit one). The amoCRM adapter has the same module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge.model import Company

COMPANY_TYPE = 4  # crm.enum.ownertype: Компания
TAX_FIELD = "RQ_INN"
REQUISITE_SELECT = ("ID", "ENTITY_ID", "SORT", TAX_FIELD)
OWNERS_PER_COMMAND = 25  # companies per crm.requisite.list command (pages hold 50 rows)
PRESET_METHOD = "crm.requisite.preset.list"
PRESET_PARAMS: dict[str, Any] = {
    "order": {"SORT": "ASC", "ID": "ASC"},
    "filter": {"ENTITY_TYPE_ID": 8},  # templates of requisites
    "select": ["ID", "NAME", "XML_ID", "ACTIVE", "COUNTRY_ID"],
}
# The templates a Russian portal is created with, by the length of the ИНН.
_DEFAULT_PRESETS = {
    10: "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#",
    12: "#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#",
}

Wire = Mapping[str, Any]


def requisite_query(ids: Sequence[str], *, after: str | None = None) -> dict[str, Any]:
    """``crm.requisite.list`` params for the requisites of these companies.

    Keyset paging (order by ID, ``start=-1``): a company may hold several requisites,
    so a full page is followed by another with ``>ID`` of its last row.
    """
    wanted: dict[str, Any] = {"=ENTITY_TYPE_ID": COMPANY_TYPE, "@ENTITY_ID": list(ids)}
    if after is not None:
        wanted[">ID"] = after
    return {
        "filter": wanted,
        "select": list(REQUISITE_SELECT),
        "order": {"ID": "ASC"},
        "start": -1,
    }


def _sort_key(row: Wire) -> tuple[int, int]:
    def number(value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    return number(row.get("SORT")), number(row.get("ID"))


def tax_ids(rows: Iterable[Wire]) -> dict[str, str]:
    """Company id → the ИНН of its first requisite that has one (spaces dropped)."""
    found: dict[str, str] = {}
    for row in sorted(rows, key=_sort_key):
        owner = str(row.get("ENTITY_ID") or "")
        value = "".join(str(row.get(TAX_FIELD) or "").split())
        if owner and value and owner not in found:
            found[owner] = value
    return found


def pick_preset(presets: Iterable[Wire], tax_id: str) -> str | None:
    """The template for a new requisite: the portal's default for this kind of ИНН,
    else its first active template; None when the portal has none."""
    active = [p for p in presets if str(p.get("ACTIVE", "Y")).upper() in {"Y", "1", "TRUE"}]
    wanted = _DEFAULT_PRESETS.get(len(tax_id))
    by_xml = next((p for p in active if wanted and p.get("XML_ID") == wanted), None)
    chosen = by_xml or (active[0] if active else None)
    return str(chosen["ID"]) if chosen is not None else None


def encode_tax_id(firm: Company, *, company_ref: str, preset_id: str) -> dict[str, Any] | None:
    """``crm.requisite.add`` fields holding the new company's ИНН; None without one."""
    if not firm.tax_id:
        return None
    return {
        "ENTITY_TYPE_ID": COMPANY_TYPE,
        "ENTITY_ID": company_ref,
        "PRESET_ID": preset_id,
        "NAME": firm.name or firm.tax_id,
        "RQ_COMPANY_NAME": firm.name,
        TAX_FIELD: firm.tax_id,
    }
