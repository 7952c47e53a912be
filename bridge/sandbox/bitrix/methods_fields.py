"""Custom deal fields: ``crm.deal.userfield.*`` and the camelCase ``userfieldconfig.list``."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import Result
from bridge.sandbox.bitrix.query import page, parse_filter


def _uf_kind(name: str) -> tuple[str, str] | None:
    key = name.upper()
    if key in {"ID", "SORT"}:
        return key, "int"
    if key in {"FIELD_NAME", "USER_TYPE_ID", "XML_ID", "MULTIPLE", "MANDATORY", "ENTITY_ID"}:
        return key, "str"
    return None


def userfield_list(call: Call) -> Result:
    raw_filter = call.dict_param("filter")
    with_labels = any(k.upper() == "LANG" for k in raw_filter)
    filtered = {k: v for k, v in raw_filter.items() if k.upper() != "LANG"}
    condition = parse_filter(filtered, _uf_kind, strict=False)
    userfields = call.portal.userfields
    rows = [r for r in userfields.fields.values() if condition.matches(r)]
    rows.sort(key=lambda r: (int(r["SORT"]), int(r["ID"])))
    return Result([userfields.rendered(r, with_labels=with_labels) for r in rows], len(rows))


def userfield_add(call: Call) -> Result:
    return Result(call.portal.add_userfield(call.dict_param("fields")))


def userfield_get(call: Call) -> Result:
    userfields = call.portal.userfields
    return Result(userfields.rendered(userfields.by_id(call.id_param()), with_labels=True))


def userfield_update(call: Call) -> Result:
    call.portal.userfields.update(call.id_param(), call.dict_param("fields"))
    return Result(True)


def userfield_delete(call: Call) -> Result:
    call.portal.userfields.delete(call.id_param())
    return Result(True)


def userfieldconfig_list(call: Call) -> Result:
    """The newer camelCase view of the same custom fields (deals only: ``CRM_DEAL``)."""
    wanted = str(call.dict_param("filter").get("entityId") or "CRM_DEAL")
    rows = [] if wanted != "CRM_DEAL" else list(call.portal.userfields.fields.values())
    rows.sort(key=lambda r: int(r["ID"]))
    chunk, total, following = page(rows, call.get("start"))
    return Result({"fields": [_userfield_config(r) for r in chunk]}, total, following)


def _userfield_config(row: dict[str, Any]) -> dict[str, Any]:
    def label(key: str) -> dict[str, str] | None:
        return None if row.get(key) is None else {"ru": row[key]}

    return {
        "id": row["ID"],
        "entityId": row["ENTITY_ID"],
        "fieldName": row["FIELD_NAME"],
        "userTypeId": row["USER_TYPE_ID"],
        "xmlId": row["XML_ID"],
        "sort": row["SORT"],
        "multiple": row["MULTIPLE"],
        "mandatory": row["MANDATORY"],
        "showFilter": row["SHOW_FILTER"],
        "showInList": row["SHOW_IN_LIST"],
        "editInList": row["EDIT_IN_LIST"],
        "isSearchable": row["IS_SEARCHABLE"],
        "settings": row["SETTINGS"],
        "languageId": {"ru": "ru"},
        "editFormLabel": label("EDIT_FORM_LABEL"),
        "listColumnLabel": label("LIST_COLUMN_LABEL"),
        "listFilterLabel": label("LIST_FILTER_LABEL"),
        "errorMessage": None,
        "helpMessage": None,
    }


METHODS: dict[str, Handler] = {
    "crm.deal.userfield.list": userfield_list,
    "crm.deal.userfield.add": userfield_add,
    "crm.deal.userfield.get": userfield_get,
    "crm.deal.userfield.update": userfield_update,
    "crm.deal.userfield.delete": userfield_delete,
    "userfieldconfig.list": userfieldconfig_list,
}
