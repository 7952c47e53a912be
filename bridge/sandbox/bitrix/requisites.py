"""Requisites (реквизиты) of contacts and companies, and their templates (presets). Pure state.

A Bitrix24 company keeps its tax details — ИНН (``RQ_INN``), КПП, ОГРН — not on the
company but in requisites: rows owned by a company (``ENTITY_TYPE_ID`` 4) or a
contact (3), each made from a template (``PRESET_ID``). A fresh Russian portal has
three templates: Организация, ИП, Физ. лицо. ``crm.requisite.add`` requires
``ENTITY_TYPE_ID``, ``ENTITY_ID``, ``PRESET_ID`` and ``NAME``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.bitrix.core import iso, legacy_error, parse_int

CONTACT_TYPE = 3
COMPANY_TYPE = 4
REQUISITE_TYPE = 8
RUSSIA = 1

_INT_FIELDS = frozenset(
    {"ID", "ENTITY_TYPE_ID", "ENTITY_ID", "PRESET_ID", "SORT", "CREATED_BY_ID", "MODIFY_BY_ID"}
)
_DATE_FIELDS = frozenset({"DATE_CREATE", "DATE_MODIFY"})
_FLAGS = frozenset({"ACTIVE", "ADDRESS_ONLY"})
_TEXT_FIELDS = (
    "NAME",
    "CODE",
    "XML_ID",
    "ORIGINATOR_ID",
    "RQ_NAME",
    "RQ_FIRST_NAME",
    "RQ_LAST_NAME",
    "RQ_SECOND_NAME",
    "RQ_COMPANY_NAME",
    "RQ_COMPANY_FULL_NAME",
    "RQ_DIRECTOR",
    "RQ_ACCOUNTANT",
    "RQ_EMAIL",
    "RQ_PHONE",
    "RQ_INN",
    "RQ_KPP",
    "RQ_OGRN",
    "RQ_OGRNIP",
    "RQ_OKPO",
    "RQ_OKVED",
)
REQUISITE_FIELDS = (
    "ID",
    "ENTITY_TYPE_ID",
    "ENTITY_ID",
    "PRESET_ID",
    "DATE_CREATE",
    "DATE_MODIFY",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "ACTIVE",
    "ADDRESS_ONLY",
    "SORT",
    *_TEXT_FIELDS,
)
PRESET_FIELDS = (
    "ID",
    "ENTITY_TYPE_ID",
    "COUNTRY_ID",
    "NAME",
    "DATE_CREATE",
    "DATE_MODIFY",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "ACTIVE",
    "XML_ID",
    "SORT",
)
DEFAULT_PRESETS = (
    ("Организация", "#CRM_REQUISITE_PRESET_DEF_RU_COMPANY#", 500),
    ("ИП", "#CRM_REQUISITE_PRESET_DEF_RU_INDIVIDUAL#", 510),
    ("Физ. лицо", "#CRM_REQUISITE_PRESET_DEF_RU_PERSON#", 520),
)


def kind_of(name: str) -> tuple[str, str] | None:
    """Filter/order resolver for requisites and presets (unknown fields: None)."""
    key = name.upper()
    if key in _INT_FIELDS or key == "COUNTRY_ID":
        return key, "int"
    if key in _DATE_FIELDS:
        return key, "datetime"
    if key in _FLAGS:
        return key, "bool"
    return (key, "str") if key in _TEXT_FIELDS else None


def render(row: dict[str, Any], names: tuple[str, ...], select: Any) -> dict[str, Any]:
    """Legacy shape: every value a string; ``select`` (names, or ``*``) narrows it."""
    wanted = {str(s).upper() for s in select} if isinstance(select, list) and select else {"*"}
    out: dict[str, Any] = {}
    for name in names:
        if "*" not in wanted and name not in wanted and name != "ID":
            continue
        value = row.get(name)
        if isinstance(value, dt.datetime):
            out[name] = iso(value)
        elif isinstance(value, bool):
            out[name] = "Y" if value else "N"
        else:
            out[name] = None if value is None else str(value)
    return out


@dataclass(slots=True)
class Requisites:
    """Requisite rows and templates of one portal, keyed by integer ID."""

    now: Callable[[], dt.datetime]
    owner_exists: Callable[[int, int], bool]  # (entity type, entity id) → known?
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    presets: dict[int, dict[str, Any]] = field(default_factory=dict)
    _next_id: int = 1

    def __post_init__(self) -> None:
        for n, (name, xml_id, sort) in enumerate(DEFAULT_PRESETS, start=1):
            self.presets[n] = {
                "ID": n,
                "ENTITY_TYPE_ID": REQUISITE_TYPE,
                "COUNTRY_ID": RUSSIA,
                "NAME": name,
                "DATE_CREATE": self.now(),
                "DATE_MODIFY": self.now(),
                "CREATED_BY_ID": 1,
                "MODIFY_BY_ID": 1,
                "ACTIVE": True,
                "XML_ID": xml_id,
                "SORT": sort,
            }

    def add(self, fields: dict[str, Any], *, user_id: int) -> int:
        fields = {str(k).upper(): v for k, v in fields.items()}
        entity_type = parse_int(fields.get("ENTITY_TYPE_ID"))
        entity_id = parse_int(fields.get("ENTITY_ID"))
        preset_id = parse_int(fields.get("PRESET_ID"))
        if entity_type not in (CONTACT_TYPE, COMPANY_TYPE):
            raise legacy_error("The field ENTITY_TYPE_ID is not defined or invalid.")
        if entity_id is None or not self.owner_exists(entity_type, entity_id):
            raise legacy_error("The parent entity is not found.")
        if preset_id is None or preset_id not in self.presets:
            raise legacy_error("The field PRESET_ID is not defined or invalid.")
        if not str(fields.get("NAME") or "").strip():
            raise legacy_error("The field NAME is required.")
        now = self.now()
        row: dict[str, Any] = {name: None for name in REQUISITE_FIELDS}
        row |= {"ID": self._next_id, "ENTITY_TYPE_ID": entity_type, "ENTITY_ID": entity_id}
        row |= {"PRESET_ID": preset_id, "DATE_CREATE": now, "DATE_MODIFY": now}
        row |= {"CREATED_BY_ID": user_id, "MODIFY_BY_ID": user_id, "ACTIVE": True}
        row |= {"ADDRESS_ONLY": False, "SORT": 500}
        self._next_id += 1
        self._apply(row, fields)
        self.rows[row["ID"]] = row
        return int(row["ID"])

    def update(self, row_id: int, fields: dict[str, Any], *, user_id: int) -> None:
        row = self.rows.get(row_id)
        if row is None:
            raise legacy_error(f"The Requisite with ID '{row_id}' is not found")
        fixed = {"ENTITY_TYPE_ID", "ENTITY_ID"}
        self._apply(row, {str(k).upper(): v for k, v in fields.items() if k.upper() not in fixed})
        row["DATE_MODIFY"] = self.now()
        row["MODIFY_BY_ID"] = user_id

    def delete(self, row_id: int) -> None:
        if self.rows.pop(row_id, None) is None:
            raise legacy_error(f"The Requisite with ID '{row_id}' is not found")

    def forget_owner(self, entity_type: int, entity_id: int) -> None:
        """A deleted company or contact takes its requisites with it."""
        for row_id in [
            i
            for i, r in self.rows.items()
            if (r["ENTITY_TYPE_ID"], r["ENTITY_ID"]) == (entity_type, entity_id)
        ]:
            del self.rows[row_id]

    def _apply(self, row: dict[str, Any], fields: dict[str, Any]) -> None:
        for key in _TEXT_FIELDS:
            if key in fields:
                value = fields[key]
                row[key] = None if value is None else str(value)
        for key in _FLAGS:
            if key in fields:
                row[key] = str(fields[key]).upper() in {"Y", "1", "TRUE"}
        if "SORT" in fields:
            row["SORT"] = parse_int(fields["SORT"]) or 0
        preset = parse_int(fields.get("PRESET_ID")) if "PRESET_ID" in fields else None
        if preset is not None:
            if preset not in self.presets:
                raise legacy_error("The field PRESET_ID is not defined or invalid.")
            row["PRESET_ID"] = preset
