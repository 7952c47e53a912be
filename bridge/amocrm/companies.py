"""A company's ИНН on amoCRM: a custom field of companies, named in the mapping.

Pure. amoCRM has no tax-id field of its own; accounts keep the ИНН in a company
custom field (usually a text field "ИНН"), found by :func:`tax_field` by its code
or name (``connection: company_tax_id_field:``, default ``ИНН``). :func:`tax_ids`
reads it from ``GET /api/v4/companies`` rows, so the ИНН costs no request of its
own; :func:`encode_tax_id` is the ``custom_fields_values`` entry of a new company
embedded in ``leads/complex``. The Bitrix24 adapter has the same module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bridge.model import Company

FIELDS_PATH = "/api/v4/companies/custom_fields"
DEFAULT_TAX_FIELD = "ИНН"

Json = dict[str, Any]


def tax_field(definitions: Iterable[Mapping[str, Any]], wanted: str) -> str | None:
    """The id of the company field whose code or name is ``wanted`` (case-insensitive)."""
    key = wanted.strip().casefold()
    for row in definitions:
        names = (str(row.get("code") or "").casefold(), str(row.get("name") or "").casefold())
        if key in names or key == str(row.get("id")):
            return str(row["id"])
    return None


def tax_ids(rows: Iterable[Mapping[str, Any]], field_id: str | None) -> dict[str, str]:
    """Company id → the ИНН held in ``field_id`` (spaces dropped); companies without one
    are left out."""
    found: dict[str, str] = {}
    if field_id is None:
        return found
    for row in rows:
        for item in row.get("custom_fields_values") or ():
            if str(item.get("field_id")) != field_id:
                continue
            values = [str(v.get("value") or "") for v in item.get("values") or ()]
            value = "".join(next((v for v in values if v.strip()), "").split())
            if value:
                found[str(row["id"])] = value
    return found


def encode_tax_id(firm: Company, *, field_id: str | None) -> list[Json]:
    """The ``custom_fields_values`` entry for the company's ИНН (none without one)."""
    if not firm.tax_id or field_id is None:
        return []
    return [{"field_id": int(field_id), "values": [{"value": firm.tax_id}]}]
