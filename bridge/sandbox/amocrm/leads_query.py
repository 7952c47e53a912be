"""``GET /api/v4/leads`` filters, search and order, as pure functions over records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import ApiError, as_int, as_list, int_list
from bridge.sandbox.amocrm.store import Record, Store

Predicate = Callable[[Record], bool]
_RANGES = ("created_at", "updated_at", "closed_at", "price")
_ID_LISTS = ("id", "pipeline_id", "responsible_user_id", "created_by", "updated_by")
_ORDER_KEYS = ("created_at", "updated_at", "id")


def predicates(store: Store, params: dict[str, Any]) -> list[Predicate]:
    """Everything ``filter[...]`` and ``query`` ask for, as record predicates."""
    filters = params.get("filter") or {}
    if not isinstance(filters, dict):
        raise ApiError(400, "filter must be an object")
    found: list[Predicate] = []
    for key in _ID_LISTS:
        if key in filters:
            found.append(_member(key, set(int_list(filters[key], f"filter[{key}]"))))
    for key in _RANGES:
        if key in filters:
            found.append(_range(key, filters[key]))
    if "name" in filters:
        names = set(as_list(filters["name"]))
        found.append(lambda lead: lead["name"] in names)
    if "statuses" in filters:
        found.append(_statuses(filters["statuses"]))
    text = params.get("query")
    if isinstance(text, str) and text.strip():
        found.append(_search(store, text.strip().casefold()))
    return found


def _member(key: str, wanted: set[int]) -> Predicate:
    return lambda lead: lead[key] in wanted


def _range(key: str, spec: Any) -> Predicate:
    if isinstance(spec, dict):
        low = as_int(spec["from"], f"filter[{key}][from]") if "from" in spec else None
        high = as_int(spec["to"], f"filter[{key}][to]") if "to" in spec else None
    else:
        low = high = as_int(spec, f"filter[{key}]")

    def check(lead: Record) -> bool:
        value = lead[key]
        if value is None:
            return False
        return (low is None or value >= low) and (high is None or value <= high)

    return check


def _statuses(spec: Any) -> Predicate:
    items = (
        spec if isinstance(spec, list) else list(spec.values()) if isinstance(spec, dict) else []
    )
    pairs: set[tuple[int, int | None]] = set()
    for item in items:
        if not isinstance(item, dict) or "pipeline_id" not in item:
            raise ApiError(400, "filter[statuses] needs pipeline_id and status_id")
        status = as_int(item["status_id"], "status_id") if "status_id" in item else None
        pairs.add((as_int(item["pipeline_id"], "pipeline_id"), status))

    def check(lead: Record) -> bool:
        return any(
            lead["pipeline_id"] == p and (s is None or lead["status_id"] == s) for p, s in pairs
        )

    return check


def _search(store: Store, needle: str) -> Predicate:
    def haystack(lead: Record) -> Iterable[str]:
        yield lead["name"]
        yield str(lead["id"])
        yield str(lead["price"])
        yield from cf.text_of(lead["cf"])
        for link in lead["contacts"]:
            contact = store.contacts.get(link["id"])
            if contact is not None:
                yield contact["name"]
                yield from cf.text_of(contact["cf"])

    return lambda lead: any(needle in part.casefold() for part in haystack(lead))


def ordered(records: list[Record], params: dict[str, Any]) -> list[Record]:
    """Apply ``order[field]=asc|desc``, several keys in the order sent; default: id ascending.

    Clients that always send ``order[updated_at]=asc&order[id]=asc`` work against the
    real API, so each key after the first breaks the previous one's ties.
    """
    result = sorted(records, key=lambda r: r["id"])
    order = params.get("order")
    if not order:
        return result
    if not isinstance(order, dict):
        raise ApiError(400, "order must be order[<field>]=asc|desc")
    for key, direction in order.items():
        if key not in _ORDER_KEYS or str(direction).lower() not in ("asc", "desc"):
            raise ApiError(400, f"Unsupported order {key}={direction}")
    for key, direction in reversed(list(order.items())):  # stable sorts: last key first
        result.sort(key=itemgetter(key), reverse=str(direction).lower() == "desc")
    return result


def select(store: Store, records: Iterable[Record], params: dict[str, Any]) -> list[Record]:
    checks = predicates(store, params)
    return ordered([r for r in records if all(c(r) for c in checks)], params)
