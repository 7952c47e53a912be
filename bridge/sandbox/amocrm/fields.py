"""Custom fields of the amoCRM sandbox: definitions and ``custom_fields_values``.

Stored values are ``{field_id: [{"value", "enum_id"?, "enum_code"?}]}``; the
read shape adds ``field_name``, ``field_code`` and ``field_type`` and is
``null`` when nothing is filled, as the real API does. Dates are stored and
returned as Unix seconds (the reference leaves string-vs-int open, §7.5); on
write a Unix int, ``YYYY-MM-DD`` or an RFC 3339 string is accepted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.sandbox.amocrm.http import ApiError, FieldError, validation_error
from bridge.sandbox.amocrm.store import Record, Store

# Numeric type codes used in the events feed (``custom_field_value.field_type``).
TYPE_CODES = {
    "text": 1,
    "numeric": 2,
    "checkbox": 3,
    "select": 4,
    "multiselect": 5,
    "date": 6,
    "url": 7,
    "multitext": 8,
    "textarea": 9,
    "radiobutton": 10,
    "streetaddress": 11,
    "birthday": 14,
    "date_time": 19,
    "price": 20,
}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "multitext"}
SINGLE_ENUM = {"select", "radiobutton"}
DATE_TYPES = {"date", "date_time", "birthday"}
NUMBER_TYPES = {"numeric", "price"}
ENTITIES = ("leads", "contacts", "companies")


def define(store: Store, entity: str, spec: dict[str, Any], request_id: str = "0") -> Record:
    """Create and store a field definition (name, type, code?, enums?, sort?)."""
    record = prepare(store, entity, spec, request_id)
    store.fields[entity][record["id"]] = record
    return record


def prepare(store: Store, entity: str, spec: dict[str, Any], request_id: str = "0") -> Record:
    """A validated field definition, not yet stored (a batch is all or nothing)."""
    name, kind = spec.get("name"), spec.get("type")
    if not isinstance(name, str) or not name:
        raise validation_error(request_id, [FieldError("NotBlank", "name", "Name is required")])
    if kind not in TYPE_CODES or (kind == "multitext" and entity == "leads"):
        raise validation_error(
            request_id,
            [
                FieldError(
                    "NotSupportedChoice", "type", "The value you selected is not a valid choice."
                )
            ],
        )
    enums = None
    if kind in ENUM_TYPES:
        enums = [_enum(store, e, i) for i, e in enumerate(spec.get("enums") or [])]
    record: Record = {
        "id": store.next_id("field"),
        "name": name,
        "type": kind,
        "code": spec.get("code"),
        "sort": int(spec.get("sort", 500)),
        "is_api_only": bool(spec.get("is_api_only", False)),
        "enums": enums,
        "entity_type": entity,
        "is_predefined": bool(spec.get("is_predefined", False)),
        "is_deletable": not spec.get("is_predefined", False),
        "currency": spec.get("currency"),
    }
    return record


def _enum(store: Store, spec: Any, index: int) -> Record:
    value = spec.get("value") if isinstance(spec, dict) else spec
    sort = spec.get("sort", (index + 1) * 10) if isinstance(spec, dict) else (index + 1) * 10
    return {"id": store.next_id("enum"), "value": str(value), "sort": int(sort)}


def render_definition(store: Store, record: Record) -> Record:
    """The definition in the shape of ``custom_field_select_created.json``."""
    entity = record["entity_type"]
    return {
        "id": record["id"],
        "name": record["name"],
        "type": record["type"],
        "account_id": store.account_id,
        "code": record["code"],
        "sort": record["sort"],
        "is_api_only": record["is_api_only"],
        "enums": [dict(e) for e in record["enums"]] if record["enums"] is not None else None,
        "group_id": None,
        "required_statuses": [],
        "is_deletable": record["is_deletable"],
        "is_predefined": record["is_predefined"],
        "entity_type": record["entity_type"],
        "tracking_callback": None,
        "remind": None,
        "triggers": [],
        "currency": record["currency"],
        "hidden_statuses": [],
        "chained_lists": None,
        "_links": {
            "self": {"href": f"{store.base_url}/api/v4/{entity}/custom_fields/{record['id']}"}
        },
    }


def render_values(
    store: Store, entity: str, stored: dict[int, list[Record]]
) -> list[Record] | None:
    """``custom_fields_values`` as the API shows it; ``None`` when nothing is filled."""
    out = []
    for field_id, values in stored.items():
        definition = store.fields[entity].get(field_id)
        if definition is None or not values:
            continue
        out.append(
            {
                "field_id": field_id,
                "field_name": definition["name"],
                "field_code": definition["code"],
                "field_type": definition["type"],
                "values": [dict(v) for v in values],
            }
        )
    return out or None


def text_of(stored: dict[int, list[Record]]) -> list[str]:
    """Every stored value as text, for ``query=`` search."""
    return [str(v.get("value")) for values in stored.values() for v in values]


def apply_values(
    store: Store,
    entity: str,
    current: dict[int, list[Record]],
    incoming: Any,
    request_id: str,
) -> dict[int, list[Record]]:
    """Merge a write's ``custom_fields_values`` into ``current`` (fields not sent stay)."""
    if incoming is None:
        return dict(current)
    if not isinstance(incoming, list):
        raise _error(
            request_id, "InvalidType", "custom_fields_values", "This value should be of type array."
        )
    merged = dict(current)
    for index, item in enumerate(incoming):
        path = f"custom_fields_values.{index}"
        definition = _definition(store, entity, item, request_id, path)
        values = item.get("values") if isinstance(item, dict) else None
        if values is None:
            merged.pop(definition["id"], None)  # values: null clears the field
            continue
        if not isinstance(values, list):
            raise _error(
                request_id, "InvalidType", f"{path}.values", "This value should be of type array."
            )
        normal = [
            _value(definition, v, request_id, f"{path}.values.{i}") for i, v in enumerate(values)
        ]
        if definition["type"] in SINGLE_ENUM or definition["type"] not in ENUM_TYPES | {
            "multitext"
        }:
            normal = normal[:1]
        merged[definition["id"]] = normal
        if not normal:
            merged.pop(definition["id"])
    return merged


def _definition(store: Store, entity: str, item: Any, rid: str, path: str) -> Record:
    if isinstance(item, dict):
        if "field_id" in item:
            found = store.fields[entity].get(_int_or_none(item["field_id"]) or -1)
        else:
            code = item.get("field_code")
            found = next(
                (f for f in store.fields[entity].values() if code and f["code"] == code), None
            )
        if found is not None:
            return found
    raise _error(
        rid,
        "NotSupportedChoice",
        f"{path}.field_id",
        "The value you selected is not a valid choice.",
    )


def _value(definition: Record, raw: Any, rid: str, path: str) -> Record:
    if not isinstance(raw, dict):
        raise _error(rid, "InvalidType", path, "This value should be of type object.")
    kind = definition["type"]
    if kind in ENUM_TYPES:
        return _enum_value(definition, raw, rid, path)
    value = raw.get("value")
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise _error(rid, "InvalidType", f"{path}.value", "This value should be of type bool.")
        return {"value": value}
    if kind in DATE_TYPES:
        return {"value": _timestamp(value, rid, f"{path}.value")}
    if kind in NUMBER_TYPES:
        return {"value": _number(value, rid, f"{path}.value")}
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise _error(rid, "InvalidType", f"{path}.value", "This value should be of type string.")
    return {"value": str(value)}


def _enum_value(definition: Record, raw: Record, rid: str, path: str) -> Record:
    enums: list[Record] = definition["enums"] or []
    if definition["type"] == "multitext":
        code = raw.get("enum_code") or raw.get("enum") or "WORK"
        match = next(
            (e for e in enums if e["id"] == raw.get("enum_id") or e["value"] == code), None
        )
        if match is None or not isinstance(raw.get("value"), str):
            raise _error(
                rid, "NotSupportedChoice", path, "The value you selected is not a valid choice."
            )
        return {"value": raw["value"], "enum_id": match["id"], "enum_code": match["value"]}
    match = next(
        (
            e
            for e in enums
            if ("enum_id" in raw and e["id"] == _int_or_none(raw["enum_id"]))
            or ("enum_id" not in raw and e["value"] == raw.get("value"))
        ),
        None,
    )
    if match is None:
        raise _error(
            rid,
            "NotSupportedChoice",
            f"{path}.enum_id",
            "The value you selected is not a valid choice.",
        )
    return {"value": match["value"], "enum_id": match["id"], "enum_code": None}


def _timestamp(value: Any, rid: str, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            if value.isdigit():
                return int(value)
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return int(parsed.timestamp())
    raise _error(rid, "InvalidType", path, "This value should be a date.")


def _number(value: Any, rid: str, path: str) -> str:
    if isinstance(value, bool):
        raise _error(rid, "InvalidType", path, "This value should be of type numeric.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _error(rid, "InvalidType", path, "This value should be of type numeric.") from None
    if not number.is_finite():
        raise _error(rid, "InvalidType", path, "This value should be of type numeric.")
    return str(value) if isinstance(value, str) else format(number, "f")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _error(rid: str, code: str, path: str, detail: str) -> ApiError:
    return validation_error(rid, [FieldError(code, path, detail)])
