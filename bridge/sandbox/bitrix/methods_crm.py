"""Everything around deals: contacts, companies, timeline comments, users."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result, iso, legacy_error, parse_int
from bridge.sandbox.bitrix.parties import Parties
from bridge.sandbox.bitrix.query import list_page, page, parse_filter, parse_order, sort_records

# ---- contacts and companies ----------------------------------------------------


def _party_get(call: Call, parties: Parties) -> Result:
    row = parties.rows.get(call.id_param())
    if row is None:
        raise legacy_error("Not found")
    return Result(parties.render(row))


def _party_list(call: Call, parties: Parties) -> Result:
    raw_filter = call.get("filter")
    condition = parse_filter(raw_filter, parties.kind_of, strict=False)
    order = parse_order(call.get("order"), parties.kind_of, strict=False)
    chunk, total, following = list_page(
        parties.rows, raw_filter, condition, order, call.get("start"), view=parties.filter_view
    )
    select = call.get("select")
    selected = list(select.values()) if isinstance(select, dict) else select
    return Result([parties.render(r, selected, listing=True) for r in chunk], total, following)


def _fields(call: Call) -> dict[str, Any]:
    fields = call.get("fields")
    if not isinstance(fields, dict):
        raise legacy_error("Parameter 'fields' must be array.")
    return fields


def contact_add(call: Call) -> Result:
    return Result(call.portal.add_contact(_fields(call), user_id=call.user_id))


def contact_update(call: Call) -> Result:
    call.portal.update_contact(call.id_param(), _fields(call), user_id=call.user_id)
    return Result(True)


def contact_delete(call: Call) -> Result:
    call.portal.delete_contact(call.id_param())
    return Result(True)


def company_add(call: Call) -> Result:
    return Result(call.portal.add_company(_fields(call), user_id=call.user_id))


def company_update(call: Call) -> Result:
    company_id = call.id_param()
    if company_id not in call.portal.companies.rows:
        raise legacy_error("Not found")
    call.portal.companies.update(company_id, _fields(call), user_id=call.user_id)
    return Result(True)


# ---- timeline comments ---------------------------------------------------------------


def comment_add(call: Call) -> Result:
    fields = call.params.get("fields")  # lower-case only since crm 23.100.0
    if not isinstance(fields, dict):
        raise ApiError(400, "100", "Required fields are missing: fields")
    entity_type = str(fields.get("ENTITY_TYPE", "")).lower()
    entity_id = parse_int(fields.get("ENTITY_ID"))
    text = str(fields.get("COMMENT") or "")
    if not text:
        raise ApiError(400, "INVALID_ARG_VALUE", "Empty comment")
    if entity_type != "deal" or entity_id not in call.portal.deals.rows:
        raise ApiError(400, "OWNER_NOT_FOUND", "Owner entity not found")
    author = parse_int(fields.get("AUTHOR_ID")) or call.user_id
    return Result(call.portal.add_comment(entity_type, entity_id, text, author))


def _comment_kind(name: str) -> tuple[str, str] | None:
    key = name.upper()
    kinds = {"ID": "int", "ENTITY_ID": "int", "AUTHOR_ID": "int", "CREATED": "datetime"}
    if key in kinds:
        return key, kinds[key]
    return (key, "str") if key == "ENTITY_TYPE" else None


def comment_list(call: Call) -> Result:
    condition = parse_filter(call.get("filter"), _comment_kind, strict=False)
    order = parse_order(call.get("order"), _comment_kind, strict=False)
    rows = sort_records((r for r in call.portal.comments.values() if condition.matches(r)), order)
    chunk, total, following = page(rows, call.get("start"))
    rendered = [
        {
            "ID": str(r["ID"]),
            "ENTITY_ID": str(r["ENTITY_ID"]),
            "ENTITY_TYPE": r["ENTITY_TYPE"],
            "CREATED": iso(r["CREATED"]),
            "COMMENT": r["COMMENT"],
            "AUTHOR_ID": str(r["AUTHOR_ID"]),
            "FILES": {},
        }
        for r in chunk
    ]
    return Result(rendered, total, following)


# ---- users -------------------------------------------------------------------------


def user_get(call: Call) -> Result:
    users = call.portal.users
    wanted = parse_int(call.get("ID")) or parse_int(call.dict_param("filter").get("ID"))
    rows = [u for uid, u in sorted(users.items()) if wanted is None or uid == wanted]
    chunk, total, following = page(rows, call.get("start"))
    return Result([dict(u) for u in chunk], total, following)


def user_current(call: Call) -> Result:
    return Result(dict(call.portal.users[call.user_id]))


def department_get(call: Call) -> Result:
    return Result([{"ID": "1", "NAME": "Агентство", "SORT": 500}], 1)


def server_time(call: Call) -> Result:
    return Result(iso(call.portal.now()))


METHODS: dict[str, Handler] = {
    "crm.contact.add": contact_add,
    "crm.contact.get": lambda call: _party_get(call, call.portal.contacts),
    "crm.contact.list": lambda call: _party_list(call, call.portal.contacts),
    "crm.contact.update": contact_update,
    "crm.contact.delete": contact_delete,
    "crm.company.add": company_add,
    "crm.company.get": lambda call: _party_get(call, call.portal.companies),
    "crm.company.list": lambda call: _party_list(call, call.portal.companies),
    "crm.company.update": company_update,
    "crm.timeline.comment.add": comment_add,
    "crm.timeline.comment.list": comment_list,
    "user.get": user_get,
    "user.current": user_current,
    "department.get": department_get,
    "server.time": server_time,
}
