"""``crm.requisite.*`` and ``crm.requisite.preset.list``: a company's ИНН lives here.

List methods follow the legacy list rules (filter operators such as ``@ENTITY_ID``,
``order``, ``select``, 50-row pages, ``start=-1``), so a client reads the requisites
of 50 companies with one command of a ``batch``.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import Result, legacy_error
from bridge.sandbox.bitrix.query import list_page, parse_filter, parse_order
from bridge.sandbox.bitrix.requisites import PRESET_FIELDS, REQUISITE_FIELDS, kind_of, render


def _fields(call: Call) -> dict[str, Any]:
    fields = call.get("fields")
    if not isinstance(fields, dict):
        raise legacy_error("Parameter 'fields' must be array.")
    return fields


def _list(call: Call, rows: dict[int, dict[str, Any]], names: tuple[str, ...]) -> Result:
    raw_filter = call.get("filter")
    condition = parse_filter(raw_filter, kind_of, strict=False)
    order = parse_order(call.get("order"), kind_of, strict=False)
    chunk, total, following = list_page(rows, raw_filter, condition, order, call.get("start"))
    select = call.get("select")
    selected = list(select.values()) if isinstance(select, dict) else select
    return Result([render(r, names, selected) for r in chunk], total, following)


def requisite_add(call: Call) -> Result:
    return Result(call.portal.requisites.add(_fields(call), user_id=call.user_id))


def requisite_get(call: Call) -> Result:
    row = call.portal.requisites.rows.get(call.id_param())
    if row is None:
        raise legacy_error("Not found")
    return Result(render(row, REQUISITE_FIELDS, None))


def requisite_update(call: Call) -> Result:
    call.portal.requisites.update(call.id_param(), _fields(call), user_id=call.user_id)
    return Result(True)


def requisite_delete(call: Call) -> Result:
    call.portal.requisites.delete(call.id_param())
    return Result(True)


METHODS: dict[str, Handler] = {
    "crm.requisite.add": requisite_add,
    "crm.requisite.get": requisite_get,
    "crm.requisite.list": lambda call: _list(call, call.portal.requisites.rows, REQUISITE_FIELDS),
    "crm.requisite.update": requisite_update,
    "crm.requisite.delete": requisite_delete,
    "crm.requisite.preset.list": lambda call: _list(
        call, call.portal.requisites.presets, PRESET_FIELDS
    ),
}
