"""Deal rendering and field-name resolution for both APIs. Pure, no I/O."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.fields import (
    DEAL_FIELDS,
    DEAL_SPECS,
    FieldSpec,
    render_item,
    render_legacy,
    render_uf,
    to_camel,
)
from bridge.sandbox.bitrix.query import Resolver
from bridge.sandbox.bitrix.userfields import UserFields

Record = dict[str, Any]

# Keys real portals send in crm.item answers that the sandbox has no data for.
_ITEM_CONSTANTS: dict[str, Any] = {
    "dateCreateShort": None,
    "dateModifyShort": None,
    "productId": None,
    "begindateShort": None,
    "closedateShort": None,
    "eventDate": None,
    "eventDateShort": None,
    "eventId": None,
    "eventDescription": None,
    "webformId": 0,
    "orderStage": None,
    "isWork": None,
    "isWon": None,
    "isLose": None,
    "receivedAmount": None,
    "lostAmount": None,
    "hasProducts": None,
}
_ITEM_EMPTY_STRING = frozenset({"sourceId", "sourceDescription", "comments"})
_UF_KINDS = {
    "integer": "int",
    "double": "decimal",
    "enumeration": "int",
    "boolean": "bool",
    "date": "date",
    "datetime": "datetime",
    "employee": "int",
}


def compare_kind(spec: FieldSpec) -> str:
    if spec.type in {"integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_quote"}:
        return "int"
    if spec.type == "crm_category":
        return "int"
    return {"double": "decimal", "datetime": "datetime", "date": "date", "char": "bool"}.get(
        spec.type, "str"
    )


def legacy_resolver(userfields: UserFields) -> Resolver:
    def resolve(name: str) -> tuple[str, str] | None:
        key = name.upper()
        if key in DEAL_SPECS:
            return key, compare_kind(DEAL_SPECS[key])
        if key in userfields.fields:
            return key, _UF_KINDS.get(userfields.fields[key]["USER_TYPE_ID"], "str")
        return None

    return resolve


def camel_names(userfields: UserFields) -> dict[str, str]:
    """camelCase → legacy name, for every deal field and custom field."""
    names = {to_camel(spec.name): spec.name for spec in DEAL_FIELDS}
    names |= {to_camel(name): name for name in userfields.fields}
    return names


def item_resolver(userfields: UserFields) -> Resolver:
    legacy = legacy_resolver(userfields)
    names = camel_names(userfields)

    def resolve(name: str) -> tuple[str, str] | None:
        # Upper-case legacy names are tolerated: fast-bitrix24 adds ``order: {ID: ASC}``.
        return legacy(names.get(name, name))

    return resolve


def item_fields_to_legacy(fields: dict[str, Any], userfields: UserFields) -> dict[str, Any]:
    names = camel_names(userfields)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        legacy = names.get(key)
        if legacy is None and key.upper() in userfields.fields:
            legacy = key.upper()
        if legacy is not None:
            out[legacy] = value
    return out


def _selected(select: Any) -> set[str] | None:
    if not select:
        return None
    items = select if isinstance(select, list) else list(select.values())
    return {str(s) for s in items}


def render_legacy_deal(
    record: Record, userfields: UserFields, select: Any = None, *, listing: bool = False
) -> dict[str, Any]:
    """``crm.deal.get`` / ``crm.deal.list`` row: strings, ``null`` links, Y/N."""
    wanted = _selected(select)
    upper = None if wanted is None else {s.upper() for s in wanted}
    star = upper is None or "*" in upper
    out: dict[str, Any] = {}
    for spec in DEAL_FIELDS:
        if spec.name == "CONTACT_IDS":
            continue  # neither returned nor selectable through the legacy API
        if star or spec.name == "ID" or (upper is not None and spec.name in upper):
            out[spec.name] = render_legacy(spec.type, record.get(spec.name))
    for name, uf in userfields.fields.items():
        named = upper is not None and name in upper
        by_mask = upper is None or "UF_*" in upper
        # The list masks skip multiple custom fields; get returns every field.
        if named or (by_mask and (not listing or uf["MULTIPLE"] != "Y")):
            out[name] = render_uf(uf, record.get(name), item=False)
    return out


def render_item_deal(
    record: Record, userfields: UserFields, select: Any = None, *, original_uf: bool = False
) -> dict[str, Any]:
    """``crm.item.*`` shape: camelCase, JSON numbers, ``companyId: 0`` when empty."""
    full: dict[str, Any] = {}
    for spec in DEAL_FIELDS:
        if spec.name == "CONTACT_IDS":
            continue
        full[to_camel(spec.name)] = render_item(spec, record.get(spec.name))
    for key in _ITEM_EMPTY_STRING:
        if full.get(key) is None:
            full[key] = ""
    full |= _ITEM_CONSTANTS
    full["searchContent"] = f"{record['ID']} {record.get('TITLE') or ''}".strip()
    for name, uf in userfields.fields.items():
        key = name if original_uf else to_camel(name)
        full[key] = render_uf(uf, record.get(name), item=True)
    full["observers"] = []
    full["contactIds"] = list(record.get("CONTACT_IDS") or [])
    full["entityTypeId"] = 2
    wanted = _selected(select)
    if wanted is None or "*" in wanted:
        return full
    keep = {"id"} | wanted | {to_camel(w) for w in wanted if w.upper() == w}
    if wanted & {"uf_*", "UF_*", "ufCrm*"}:
        keep |= {k for k in full if k.startswith(("ufCrm", "UF_CRM_"))}
    return {k: v for k, v in full.items() if k in keep}


def deal_fields_description(userfields: UserFields) -> dict[str, Any]:
    """``crm.deal.fields``: standard fields then ``UF_CRM_*`` with labels and items."""
    out: dict[str, Any] = {spec.name: _describe(spec) for spec in DEAL_FIELDS}
    for name, uf in userfields.fields.items():
        out[name] = _describe_uf(uf) | {"title": name}
    return out


def item_fields_description(userfields: UserFields, *, original_uf: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in DEAL_FIELDS:
        out[to_camel(spec.name)] = _describe(spec) | {"upperName": spec.name}
    for name, uf in userfields.fields.items():
        key = name if original_uf else to_camel(name)
        out[key] = _describe_uf(uf) | {"title": uf["EDIT_FORM_LABEL"], "upperName": name}
    return out


def _describe(spec: FieldSpec) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": spec.type,
        "isRequired": False,
        "isReadOnly": spec.readonly,
        "isImmutable": spec.immutable,
        "isMultiple": spec.multiple,
        "isDynamic": False,
    }
    if spec.deprecated:
        row["isDeprecated"] = True
    if spec.status_type:
        row["statusType"] = spec.status_type
    row["title"] = spec.title
    if spec.parent_type is not None:
        row["settings"] = {"parentEntityTypeId": spec.parent_type}
    return row


def _describe_uf(uf: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": uf["USER_TYPE_ID"],
        "isRequired": uf["MANDATORY"] == "Y",
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": uf["MULTIPLE"] == "Y",
        "isDynamic": True,
        "settings": uf["SETTINGS"],
        "listLabel": uf["LIST_COLUMN_LABEL"],
        "formLabel": uf["EDIT_FORM_LABEL"],
        "filterLabel": uf["LIST_FILTER_LABEL"],
    }
    if uf["USER_TYPE_ID"] == "enumeration":
        row["items"] = [{"ID": o["ID"], "VALUE": o["VALUE"]} for o in uf["LIST"]]
    return row
