"""Contacts and companies, with their PHONE/EMAIL/WEB/IM multifields. Pure state.

Multifield writes follow ``crm.contact.update``: a row without ``ID`` adds, a row
with ``ID`` changes that row, ``DELETE: "Y"`` or an empty ``VALUE`` removes it,
rows not mentioned stay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.bitrix.core import flag
from bridge.sandbox.bitrix.fields import FieldSpec, coerce, render_legacy

MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
_HAS = {"HAS_PHONE": "PHONE", "HAS_EMAIL": "EMAIL", "HAS_IMOL": "IMOL"}


def _f(name: str, type_: str, title: str, **extra: Any) -> FieldSpec:
    return FieldSpec(name, type_, title, **extra)


_COMMON_TAIL = (
    _f("HAS_PHONE", "char", "Есть телефон", readonly=True),
    _f("HAS_EMAIL", "char", "Есть e-mail", readonly=True),
    _f("HAS_IMOL", "char", "Есть открытая линия", readonly=True),
    _f("ASSIGNED_BY_ID", "user", "Ответственный"),
    _f("CREATED_BY_ID", "user", "Кем создан", readonly=True),
    _f("MODIFY_BY_ID", "user", "Кем изменён", readonly=True),
    _f("DATE_CREATE", "datetime", "Дата создания", readonly=True),
    _f("DATE_MODIFY", "datetime", "Дата изменения", readonly=True),
    _f("OPENED", "char", "Доступен для всех"),
    _f("ORIGINATOR_ID", "string", "Внешний источник"),
    _f("ORIGIN_ID", "string", "Идентификатор во внешнем источнике"),
    _f("ORIGIN_VERSION", "string", "Версия во внешнем источнике"),
)
CONTACT_FIELDS: tuple[FieldSpec, ...] = (
    _f("ID", "integer", "ID", readonly=True),
    _f("POST", "string", "Должность"),
    _f("COMMENTS", "string", "Комментарий"),
    _f("HONORIFIC", "crm_status", "Обращение"),
    _f("NAME", "string", "Имя"),
    _f("SECOND_NAME", "string", "Отчество"),
    _f("LAST_NAME", "string", "Фамилия"),
    _f("PHOTO", "file", "Фотография"),
    _f("LEAD_ID", "crm_lead", "Лид", readonly=True),
    _f("TYPE_ID", "crm_status", "Тип контакта"),
    _f("SOURCE_ID", "crm_status", "Источник"),
    _f("SOURCE_DESCRIPTION", "string", "Дополнительно об источнике"),
    _f("COMPANY_ID", "crm_company", "Компания"),
    _f("BIRTHDATE", "date", "Дата рождения"),
    _f("EXPORT", "char", "Участвует в экспорте"),
    *_COMMON_TAIL,
    _f("FACE_ID", "integer", "FACE_ID", readonly=True),
    _f("LAST_ACTIVITY_TIME", "datetime", "LAST_ACTIVITY_TIME", readonly=True),
    _f("LAST_ACTIVITY_BY", "user", "LAST_ACTIVITY_BY", readonly=True),
    *(
        _f(name, "string", name)
        for name in (
            "ADDRESS",
            "ADDRESS_2",
            "ADDRESS_CITY",
            "ADDRESS_POSTAL_CODE",
            "ADDRESS_REGION",
            "ADDRESS_PROVINCE",
            "ADDRESS_COUNTRY",
            "ADDRESS_LOC_ADDR_ID",
            "UTM_SOURCE",
            "UTM_MEDIUM",
            "UTM_CAMPAIGN",
            "UTM_CONTENT",
            "UTM_TERM",
        )
    ),
)
COMPANY_FIELDS: tuple[FieldSpec, ...] = (
    _f("ID", "integer", "ID", readonly=True),
    _f("TITLE", "string", "Название компании"),
    _f("COMPANY_TYPE", "crm_status", "Тип компании"),
    _f("INDUSTRY", "crm_status", "Сфера деятельности"),
    _f("EMPLOYEES", "crm_status", "Кол-во сотрудников"),
    _f("CURRENCY_ID", "crm_currency", "Валюта"),
    _f("REVENUE", "double", "Годовой оборот"),
    _f("COMMENTS", "string", "Комментарий"),
    _f("IS_MY_COMPANY", "char", "Моя компания"),
    _f("LEAD_ID", "crm_lead", "Лид", readonly=True),
    *_COMMON_TAIL,
    _f("UF_CRM_INN", "string", "ИНН"),
)


@dataclass(slots=True)
class Parties:
    """One kind of party (contacts or companies), keyed by integer ID."""

    specs: tuple[FieldSpec, ...]
    now: Callable[[], dt.datetime]
    next_multifield: Callable[[], int]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    _next_id: int = 1
    _by_name: dict[str, FieldSpec] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {spec.name: spec for spec in self.specs}

    def add(self, fields: dict[str, Any], *, user_id: int) -> int:
        now = self.now()
        row: dict[str, Any] = {spec.name: None for spec in self.specs}
        row |= {"ID": self._next_id, "DATE_CREATE": now, "DATE_MODIFY": now, "OPENED": True}
        row |= {"CREATED_BY_ID": user_id, "MODIFY_BY_ID": user_id, "ASSIGNED_BY_ID": user_id}
        row |= {"EXPORT": False, "IS_MY_COMPANY": False}
        row |= {"LAST_ACTIVITY_TIME": now, "LAST_ACTIVITY_BY": user_id}
        row |= {kind: [] for kind in MULTIFIELDS}
        self._next_id += 1
        self._apply(row, fields)
        self.rows[row["ID"]] = row
        return int(row["ID"])

    def update(self, row_id: int, fields: dict[str, Any], *, user_id: int) -> None:
        row = self.rows[row_id]
        self._apply(row, fields)
        row["DATE_MODIFY"] = self.now()
        row["MODIFY_BY_ID"] = user_id

    def _apply(self, row: dict[str, Any], fields: dict[str, Any]) -> None:
        for raw_key, value in fields.items():
            key = raw_key.upper()
            if key in MULTIFIELDS:
                self._merge_multifield(row, key, value)
                continue
            spec = self._by_name.get(key)
            if spec is not None and not spec.readonly:
                row[key] = coerce(spec.type, value)
            elif key.startswith("UF_CRM_"):
                row[key] = value
        for has_key, kind in _HAS.items():
            row[has_key] = bool(row.get(kind))

    def _merge_multifield(self, row: dict[str, Any], kind: str, value: Any) -> None:
        entries = list(value.values()) if isinstance(value, dict) else value
        if not isinstance(entries, list):
            return
        current: list[dict[str, Any]] = row[kind]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            self._merge_one(current, kind, entry)

    def _merge_one(self, current: list[dict[str, Any]], kind: str, entry: dict[str, Any]) -> None:
        known = next((m for m in current if str(m["ID"]) == str(entry.get("ID"))), None)
        removing = flag(entry.get("DELETE", "N")) or entry.get("VALUE") == ""
        if known is not None:
            if removing or "VALUE" not in entry:
                current.remove(known)
                return
            known["VALUE"] = str(entry["VALUE"])
            known["VALUE_TYPE"] = str(entry.get("VALUE_TYPE", known["VALUE_TYPE"]))
            return
        if removing or entry.get("VALUE") is None:
            return
        current.append(
            {
                "ID": self.next_multifield(),
                "VALUE_TYPE": str(entry.get("VALUE_TYPE") or "WORK"),
                "VALUE": str(entry["VALUE"]),
                "TYPE_ID": kind,
            }
        )

    def render(
        self, row: dict[str, Any], select: list[str] | None = None, *, listing: bool = False
    ) -> dict[str, Any]:
        """Legacy shape: scalars as strings, multifields left out when empty.

        ``get`` returns everything; ``list`` returns multifields only when selected by
        name (``select: ["*", "PHONE"]``), as ``*`` covers single-valued fields only.
        """
        wanted = {s.upper() for s in select} if select else None
        named = wanted or set()
        star = wanted is None or "*" in named
        out: dict[str, Any] = {}
        for spec in self.specs:
            if star or spec.name in named or spec.name == "ID":
                out[spec.name] = render_legacy(spec.type, row.get(spec.name))
        for key, value in row.items():
            if key.startswith("UF_CRM_") and key not in out and _wants_uf(wanted, key):
                out[key] = value
        for kind in MULTIFIELDS:
            shown = kind in named if listing else True
            if row[kind] and shown:
                out[kind] = [dict(m, ID=str(m["ID"])) for m in row[kind]]
        return out

    def kind_of(self, name: str) -> tuple[str, str] | None:
        spec = self._by_name.get(name.upper())
        if spec is not None:
            return spec.name, _compare_kind(spec.type)
        if name.upper() in MULTIFIELDS:
            return name.upper() + "_VALUES", "str"
        return None

    def filter_view(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row plus flat lists of multifield values, so ``PHONE`` can be filtered."""
        return row | {kind + "_VALUES": [m["VALUE"] for m in row[kind]] for kind in MULTIFIELDS}


def _wants_uf(wanted: set[str] | None, key: str) -> bool:
    return wanted is None or "UF_*" in wanted or key in wanted


def _compare_kind(type_: str) -> str:
    if type_ in {"integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote"}:
        return "int"
    return {"double": "decimal", "datetime": "datetime", "date": "date", "char": "bool"}.get(
        type_, "str"
    )
