"""Pipelines and stages: ``crm.category.*``, ``crm.status.*``, ``crm.dealcategory.stage.list``."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result, legacy_error, parse_int
from bridge.sandbox.bitrix.query import page, parse_filter, parse_order, sort_records


def category_list(call: Call) -> Result:
    if parse_int(call.get("entityTypeId")) != 2:
        raise ApiError(400, "NOT_FOUND", "Smart process not found")
    categories = sorted(call.portal.pipelines.categories.values(), key=lambda c: (c.sort, c.id))
    rendered = [c.render() for c in categories]
    return Result({"categories": rendered}, len(rendered))


def category_get(call: Call) -> Result:
    category = call.portal.pipelines.categories.get(parse_int(call.get("id")) or 0)
    if category is None or parse_int(call.get("entityTypeId")) != 2:
        raise ApiError(400, "NOT_FOUND", "Category not found")
    return Result({"category": category.render()})


def category_add(call: Call) -> Result:
    if parse_int(call.get("entityTypeId")) != 2:
        raise ApiError(400, "NOT_FOUND", "Smart process not found")
    fields = call.dict_param("fields")
    name = str(fields.get("name") or fields.get("NAME") or "")
    if not name:
        raise ApiError(400, "CRM_FIELD_ERROR_REQUIRED", "Field 'name' is required")
    sort = parse_int(fields.get("sort")) or 500
    category = call.portal.pipelines.add_category(name, sort=sort)
    return Result({"category": category.render()})


def _status_kind(name: str) -> tuple[str, str] | None:
    key = name.upper()
    known = {"ID": "int", "SORT": "int", "CATEGORY_ID": "int"}
    if key in known:
        return key, known[key]
    if key in {"ENTITY_ID", "STATUS_ID", "NAME", "SEMANTICS", "SYSTEM"}:
        return key, "str"
    return None


_OTHER_STATUSES = {
    "DEAL_TYPE": ("SALE", "COMPLEX", "GOODS", "SERVICE"),
    "SOURCE": ("CALL", "EMAIL", "WEB", "ADVERTISING", "PARTNER", "OTHER"),
}


def _other_status_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for entity, codes in _OTHER_STATUSES.items():
        for n, code in enumerate(codes):
            rows.append(
                {
                    "ID": str(1000 + len(rows)),
                    "ENTITY_ID": entity,
                    "STATUS_ID": code,
                    "NAME": code.title(),
                    "NAME_INIT": code.title(),
                    "SORT": str((n + 1) * 10),
                    "SYSTEM": "Y",
                    "CATEGORY_ID": None,
                    "COLOR": None,
                    "SEMANTICS": None,
                    "EXTRA": [],
                }
            )
    return rows


def status_list(call: Call) -> Result:
    condition = parse_filter(call.get("filter"), _status_kind, strict=False)
    order = parse_order(call.get("order") or {"SORT": "ASC"}, _status_kind, strict=False)
    everything = [*call.portal.pipelines.stages, *_other_status_rows()]
    rows = sort_records((r for r in everything if condition.matches(r)), order)
    chunk, total, following = page(rows, call.get("start"))
    return Result([dict(r) for r in chunk], total, following)


def dealcategory_stage_list(call: Call) -> Result:
    category_id = parse_int(call.get("id")) or 0
    if category_id not in call.portal.pipelines.categories:
        raise legacy_error("Not found")
    return Result([dict(r) for r in call.portal.pipelines.of_category(category_id)])


def status_add(call: Call) -> Result:
    """A custom stage (deal stage entities only); answers the new row's integer ID."""
    fields = call.dict_param("fields")
    entity = str(fields.get("ENTITY_ID") or "")
    category_id = call.portal.pipelines.category_for_entity(entity)
    if category_id is None:
        raise ApiError(400, "ERROR_CORE", f"Unsupported ENTITY_ID '{entity}'")
    name = str(fields.get("NAME") or "")
    if not name:
        raise ApiError(400, "ERROR_CORE", "NAME is required")
    semantics = {"S": "S", "F": "F"}.get(str(fields.get("SEMANTICS") or "").upper(), "P")
    raw_code = str(fields.get("STATUS_ID") or "")
    code = raw_code.split(":", 1)[-1] if raw_code else None  # the C<N>: prefix is added back
    sort = parse_int(fields.get("SORT"))
    try:
        row = call.portal.pipelines.add_status(category_id, name, semantics, code=code, sort=sort)
    except ValueError as error:
        raise ApiError(400, "ERROR_CORE", str(error)) from None
    return Result(int(row["ID"]))


def status_update(call: Call) -> Result:
    fields = call.dict_param("fields")
    row = call.portal.pipelines.row(call.id_param())
    if row is None:
        raise legacy_error("Not found")
    if fields.get("NAME"):
        row["NAME"] = str(fields["NAME"])
    if parse_int(fields.get("SORT")) is not None:
        row["SORT"] = str(parse_int(fields.get("SORT")))
    return Result(True)


def status_delete(call: Call) -> Result:
    row = call.portal.pipelines.row(call.id_param())
    if row is None:
        raise legacy_error("Not found")
    forced = str(call.dict_param("params").get("FORCED", "N")).upper() == "Y"
    if row["SYSTEM"] == "Y" and not forced:
        raise ApiError(400, "ERROR_CORE", "Can't delete system status")
    if any(d["STAGE_ID"] == row["STATUS_ID"] for d in call.portal.deals.rows.values()):
        raise ApiError(400, "ERROR_CORE", "There are deals in this stage")
    call.portal.pipelines.delete_stage(str(row["STATUS_ID"]))
    return Result(True)


METHODS: dict[str, Handler] = {
    "crm.category.list": category_list,
    "crm.category.get": category_get,
    "crm.category.add": category_add,
    "crm.status.list": status_list,
    "crm.status.add": status_add,
    "crm.status.update": status_update,
    "crm.status.delete": status_delete,
    "crm.dealcategory.stage.list": dealcategory_stage_list,
}
