"""``crm.deal.*`` (legacy) and ``crm.item.*`` (entityTypeId 2) over one deal store."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result, flag, legacy_error, parse_int
from bridge.sandbox.bitrix.query import list_page, parse_filter, parse_order
from bridge.sandbox.bitrix.render import (
    deal_fields_description,
    item_fields_description,
    item_fields_to_legacy,
    item_resolver,
    legacy_resolver,
    render_item_deal,
    render_legacy_deal,
)

# ---- legacy crm.deal.* ---------------------------------------------------------


def deal_fields(call: Call) -> Result:
    return Result(deal_fields_description(call.portal.userfields))


def deal_get(call: Call) -> Result:
    deal_id = call.id_param()
    record = call.portal.deals.require(deal_id)
    return Result(render_legacy_deal(record, call.portal.userfields))


def deal_list(call: Call) -> Result:
    portal = call.portal
    resolve = legacy_resolver(portal.userfields)
    raw_filter = call.get("filter")
    condition = parse_filter(raw_filter, resolve, strict=False)
    order = parse_order(call.get("order"), resolve, strict=False)
    chunk, total, following = list_page(
        portal.deals.rows, raw_filter, condition, order, call.get("start")
    )
    select = call.get("select")
    rendered = [render_legacy_deal(r, portal.userfields, select, listing=True) for r in chunk]
    return Result(rendered, total, following)


def _fields(call: Call) -> dict[str, Any]:
    fields = call.get("fields")
    if not isinstance(fields, dict):
        raise legacy_error("Parameter 'fields' must be array.")
    return fields


def deal_add(call: Call) -> Result:
    fields = _fields(call)
    return Result(call.portal.add_deal(fields, user_id=call.user_id))


def deal_update(call: Call) -> Result:
    deal_id = call.id_param()
    fields = _fields(call)
    call.portal.update_deal(deal_id, fields, user_id=call.user_id)
    return Result(True)


def deal_delete(call: Call) -> Result:
    call.portal.delete_deal(call.id_param())
    return Result(True)


# ---- deal <-> contact links -----------------------------------------------------


def _linked_deal(call: Call) -> dict[str, Any]:
    deal_id = parse_int(call.get("id"))
    if deal_id is None or deal_id <= 0:
        raise legacy_error("The parameter ownerEntityID is invalid or not defined.")
    record = call.portal.deals.rows.get(deal_id)
    if record is None:
        raise legacy_error("Not found.")
    return record


def contact_items_get(call: Call) -> Result:
    record = _linked_deal(call)
    links = sorted(record["CONTACTS"], key=lambda x: x["SORT"])
    return Result([dict(x, IS_PRIMARY="Y" if x["IS_PRIMARY"] else "N") for x in links])


def contact_items_set(call: Call) -> Result:
    record = _linked_deal(call)
    items = call.get("items") or []
    if isinstance(items, dict):
        items = list(items.values())
    call.portal.deals.set_links(record["ID"], [i for i in items if isinstance(i, dict)])
    call.portal.fire_update(record["ID"])
    return Result(True)


def contact_items_delete(call: Call) -> Result:
    record = _linked_deal(call)
    call.portal.deals.set_links(record["ID"], [])
    call.portal.fire_update(record["ID"])
    return Result(True)


def contact_add(call: Call) -> Result:
    record = _linked_deal(call)
    fields = call.dict_param("fields")
    current = [dict(x, IS_PRIMARY="Y" if x["IS_PRIMARY"] else "N") for x in record["CONTACTS"]]
    if flag(fields.get("IS_PRIMARY", "N")):
        for link in current:
            link["IS_PRIMARY"] = "N"
    call.portal.deals.set_links(record["ID"], [*current, fields])
    call.portal.fire_update(record["ID"])
    return Result(True)


def contact_delete(call: Call) -> Result:
    record = _linked_deal(call)
    contact_id = parse_int(call.dict_param("fields").get("CONTACT_ID"))
    kept = [
        dict(x, IS_PRIMARY="Y" if x["IS_PRIMARY"] else "N")
        for x in record["CONTACTS"]
        if x["CONTACT_ID"] != contact_id
    ]
    call.portal.deals.set_links(record["ID"], kept)
    call.portal.fire_update(record["ID"])
    return Result(True)


# ---- universal crm.item.* --------------------------------------------------------


def _entity(call: Call) -> None:
    if parse_int(call.get("entityTypeId")) != 2:
        raise ApiError(400, "NOT_FOUND", "Smart process not found")


def _original(call: Call) -> bool:
    return flag(call.get("useOriginalUfNames", "N"))


def _item(call: Call, deal_id: int) -> Result:
    record = call.portal.deals.rows[deal_id]
    rendered = render_item_deal(record, call.portal.userfields, original_uf=_original(call))
    return Result({"item": rendered})


def _item_id(call: Call) -> int:
    _entity(call)
    deal_id = parse_int(call.get("id"))
    if deal_id is None or deal_id not in call.portal.deals.rows:
        raise ApiError(400, "NOT_FOUND", "Element not found")
    return deal_id


def item_get(call: Call) -> Result:
    return _item(call, _item_id(call))


def item_list(call: Call) -> Result:
    _entity(call)
    portal = call.portal
    resolve = item_resolver(portal.userfields)
    raw_filter = call.get("filter")
    condition = parse_filter(raw_filter, resolve, strict=True)
    order = parse_order(call.get("order"), resolve, strict=True)
    chunk, total, following = list_page(
        portal.deals.rows, raw_filter, condition, order, call.get("start")
    )
    select = call.get("select")
    items = [
        render_item_deal(r, portal.userfields, select, original_uf=_original(call)) for r in chunk
    ]
    return Result({"items": items}, total, following)


def _item_fields(call: Call) -> dict[str, Any]:
    fields = call.get("fields")
    if not isinstance(fields, dict):
        raise ApiError(400, "INVALID_ARG_VALUE", "Parameter 'fields' must be array")
    return item_fields_to_legacy(fields, call.portal.userfields)


def item_add(call: Call) -> Result:
    _entity(call)
    deal_id = call.portal.add_deal(_item_fields(call), user_id=call.user_id)
    return _item(call, deal_id)


def item_update(call: Call) -> Result:
    deal_id = _item_id(call)
    call.portal.update_deal(deal_id, _item_fields(call), user_id=call.user_id, item_api=True)
    return _item(call, deal_id)


def item_delete(call: Call) -> Result:
    call.portal.delete_deal(_item_id(call))
    return Result([])


def item_fields(call: Call) -> Result:
    _entity(call)
    described = item_fields_description(call.portal.userfields, original_uf=_original(call))
    return Result({"fields": described})


METHODS: dict[str, Handler] = {
    "crm.deal.fields": deal_fields,
    "crm.deal.get": deal_get,
    "crm.deal.list": deal_list,
    "crm.deal.add": deal_add,
    "crm.deal.update": deal_update,
    "crm.deal.delete": deal_delete,
    "crm.deal.contact.items.get": contact_items_get,
    "crm.deal.contact.items.set": contact_items_set,
    "crm.deal.contact.items.delete": contact_items_delete,
    "crm.deal.contact.add": contact_add,
    "crm.deal.contact.delete": contact_delete,
    "crm.item.get": item_get,
    "crm.item.list": item_list,
    "crm.item.add": item_add,
    "crm.item.update": item_update,
    "crm.item.delete": item_delete,
    "crm.item.fields": item_fields,
}
