"""Custom deal fields (``crm.deal.userfield.*``). Pure state, no I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.bitrix.core import ApiError, flag, yn

USER_TYPES = frozenset(
    {
        "string",
        "integer",
        "double",
        "boolean",
        "datetime",
        "date",
        "money",
        "url",
        "address",
        "enumeration",
        "file",
        "employee",
        "crm_status",
        "iblock_section",
        "iblock_element",
        "crm",
    }
)
_NAME = re.compile(r"^UF_CRM_[A-Z0-9_]+$")
_LABELS = ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")
# What the portal fills in when a field is created without SETTINGS.
_DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "enumeration": {
        "DISPLAY": "LIST",
        "LIST_HEIGHT": 1,
        "CAPTION_NO_VALUE": "",
        "SHOW_NO_VALUE": "Y",
    },
    "string": {
        "SIZE": 20,
        "ROWS": 1,
        "REGEXP": "",
        "MIN_LENGTH": 0,
        "MAX_LENGTH": 0,
        "DEFAULT_VALUE": "",
    },
    "money": {"DEFAULT_VALUE": ""},
    "double": {"PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
    "boolean": {"DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX", "LABEL": ["", ""], "LABEL_CHECKBOX": ""},
    "date": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
}


def _core_error(text: str) -> ApiError:
    return ApiError(400, "ERROR_CORE", text)


@dataclass(slots=True)
class UserFields:
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    _next_id: int = 5801
    _next_option: int = 3157

    def add(self, raw: dict[str, Any]) -> int:
        name = self._field_name(raw)
        kind = str(raw.get("USER_TYPE_ID", "")).lower()
        if kind not in USER_TYPES:
            raise _core_error(f"Unknown user type '{kind}'")
        multiple = flag(raw.get("MULTIPLE", "N"))
        if kind == "boolean" and multiple:
            raise _core_error("Boolean fields cannot be multiple")
        label = raw.get("LABEL") or raw.get("EDIT_FORM_LABEL") or name
        row: dict[str, Any] = {
            "ID": str(self._next_id),
            "ENTITY_ID": "CRM_DEAL",
            "FIELD_NAME": name,
            "USER_TYPE_ID": kind,
            "XML_ID": raw.get("XML_ID"),
            "SORT": str(raw.get("SORT", 100)),
            "MULTIPLE": yn(multiple),
            "MANDATORY": yn(flag(raw.get("MANDATORY", "N"))),
            "SHOW_FILTER": str(raw.get("SHOW_FILTER", "N")),
            "SHOW_IN_LIST": str(raw.get("SHOW_IN_LIST", "Y")),
            "EDIT_IN_LIST": str(raw.get("EDIT_IN_LIST", "Y")),
            "IS_SEARCHABLE": str(raw.get("IS_SEARCHABLE", "N")),
            "SETTINGS": raw.get("SETTINGS") or dict(_DEFAULT_SETTINGS.get(kind, {})),
            **{key: _label(raw.get(key, label)) for key in _LABELS},
            "ERROR_MESSAGE": _label(raw.get("ERROR_MESSAGE")),
            "HELP_MESSAGE": _label(raw.get("HELP_MESSAGE")),
        }
        if kind == "enumeration":
            row["LIST"] = []
            self._merge_options(row, raw.get("LIST") or [])
        self._next_id += 2
        self.fields[name] = row
        return int(row["ID"])

    def _field_name(self, raw: dict[str, Any]) -> str:
        name = str(raw.get("FIELD_NAME", "")).upper()
        if not name:
            raise _core_error("FIELD_NAME is required")
        if not name.startswith("UF_CRM_"):
            name = "UF_CRM_" + (name[3:] if name.startswith("UF_") else name)
        if not _NAME.match(name) or len(name) > 50:
            raise _core_error(f"Invalid field name '{name}'")
        if name in self.fields:
            raise _core_error(f"Field '{name}' already exists")
        return name

    def _merge_options(self, row: dict[str, Any], options: Any) -> None:
        entries = list(options.values()) if isinstance(options, dict) else options
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            known = next((o for o in row["LIST"] if o["ID"] == str(entry.get("ID"))), None)
            if known is not None:
                if flag(entry.get("DEL", "N")):
                    row["LIST"].remove(known)
                else:
                    known.update({k: str(v) for k, v in entry.items() if k in {"VALUE", "SORT"}})
                continue
            value = str(entry.get("VALUE") or "")
            if not value:
                continue
            xml_id = str(entry.get("XML_ID") or hashlib.md5(value.encode()).hexdigest())  # noqa: S324
            row["LIST"].append(
                {
                    "ID": str(self._next_option),
                    "SORT": str(entry.get("SORT", (position + 1) * 10)),
                    "VALUE": value,
                    "DEF": yn(flag(entry.get("DEF", "N"))),
                    "XML_ID": xml_id,
                }
            )
            self._next_option += 2

    def update(self, field_id: int, raw: dict[str, Any]) -> None:
        row = self.by_id(field_id)
        if "LIST" in raw and row["USER_TYPE_ID"] == "enumeration":
            self._merge_options(row, raw["LIST"])
        for key in _LABELS:
            if key in raw or "LABEL" in raw:
                row[key] = _label(raw.get(key, raw.get("LABEL")))
        for key in ("SORT", "MANDATORY", "SHOW_FILTER", "SHOW_IN_LIST", "EDIT_IN_LIST", "XML_ID"):
            if key in raw:
                row[key] = raw[key]

    def delete(self, field_id: int) -> None:
        row = self.by_id(field_id)
        del self.fields[row["FIELD_NAME"]]

    def by_id(self, field_id: int) -> dict[str, Any]:
        for row in self.fields.values():
            if row["ID"] == str(field_id):
                return row
        raise ApiError(400, "ERROR_NOT_FOUND", "Not found")

    def rendered(self, row: dict[str, Any], *, with_labels: bool) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if with_labels or k not in _LABELS}
        if "LIST" in row:
            out["LIST"] = [dict(option) for option in row["LIST"]]
        return out

    def label(self, name: str) -> str:
        value = self.fields[name]["EDIT_FORM_LABEL"]
        return str(value)


def _label(value: Any) -> Any:
    """Labels are per language; the sandbox keeps one and answers it for any language."""
    if isinstance(value, dict):
        return next(iter(value.values()), "")
    return value
