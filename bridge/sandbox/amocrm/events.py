"""The events feed of the sandbox (``GET /api/v4/events``).

Lead changes become events shaped like ``events_list_page.json``, with
``value_before``/``value_after`` as in ``event_values_*.json``. The feed is
newest first, up to 100 per page. Event ids are ULID-like strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import (
    ApiError,
    Page,
    as_int,
    as_list,
    hal,
    int_list,
    list_page,
    query,
)
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import Change, Record, Store
from bridge.sandbox.emulator import Request, Response

EVENTS_LIMIT = 100
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _event_id(store: Store, seq: int) -> str:
    number = (int(store.clock.time() * 1000) << 80) | seq
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "".join(reversed(chars))


class EventRecorder:
    """A store listener that appends events for every lead change."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, change: Change) -> None:
        for kind, before, after in _describe(self.store, change):
            self._append(kind, change, before, after)

    def _append(self, kind: str, change: Change, before: list[Record], after: list[Record]) -> None:
        store = self.store
        store.events.append(
            {
                "id": _event_id(store, store.next_id("event")),
                "type": kind,
                "entity_id": change.after["id"],
                "entity_type": change.entity,
                "created_by": change.actor,
                "created_at": store.now(),
                "value_after": after,
                "value_before": before,
                "account_id": store.account_id,
            }
        )


Described = list[tuple[str, list[Record], list[Record]]]

# event type, lead key, how one value is wrapped in value_before/value_after
_SCALAR_EVENTS: tuple[tuple[str, str, str, str], ...] = (
    ("sale_field_changed", "price", "sale_field_value", "sale"),
    ("name_field_changed", "name", "name_field_value", "name"),
    ("entity_responsible_changed", "responsible_user_id", "responsible_user", "id"),
)


def _describe(store: Store, change: Change) -> Described:
    if change.action == "add":
        return [("lead_added", [], [])]
    if change.action == "delete":
        return [("lead_deleted", [], [])]
    if change.action == "note":
        note_id = change.note["id"] if change.note else 0
        return [("common_note_added", [], [{"note": {"id": note_id}}])]
    before, after = change.before or {}, change.after
    found: Described = []
    if _stage(before) != _stage(after):
        found.append(("lead_status_changed", [_status(before)], [_status(after)]))
    for kind, key, wrapper, inner in _SCALAR_EVENTS:
        if before.get(key) != after[key]:
            found.append(
                (kind, [{wrapper: {inner: before.get(key)}}], [{wrapper: {inner: after[key]}}])
            )
    return found + _field_changes(store, before.get("cf", {}), after["cf"])


def _field_changes(
    store: Store, old: dict[int, list[Record]], new: dict[int, list[Record]]
) -> Described:
    return [
        (
            "custom_field_value_changed",
            _cf_values(store, field_id, old.get(field_id, [])),
            _cf_values(store, field_id, new.get(field_id, [])),
        )
        for field_id in sorted(set(old) | set(new))
        if old.get(field_id) != new.get(field_id)
    ]


def _stage(lead: Record) -> tuple[Any, Any]:
    return lead.get("status_id"), lead.get("pipeline_id")


def _status(lead: Record) -> Record:
    return {"lead_status": {"id": lead.get("status_id"), "pipeline_id": lead.get("pipeline_id")}}


def _cf_values(store: Store, field_id: int, values: list[Record]) -> list[Record]:
    definition = store.fields["leads"].get(field_id, {})
    code = cf.TYPE_CODES.get(definition.get("type", "text"), 1)
    return [
        {
            "custom_field_value": {
                "field_id": field_id,
                "field_type": code,
                "enum_id": v.get("enum_id"),
                "text": str(v.get("value")),
            }
        }
        for v in values
    ]


# --- feed --------------------------------------------------------------------------


def render(store: Store, event: Record) -> Record:
    base = store.base_url
    entity_kind = {"lead": "leads", "contact": "contacts", "company": "companies"}.get(
        event["entity_type"], event["entity_type"]
    )
    return {
        **event,
        "_links": {"self": {"href": f"{base}/api/v4/events/{event['id']}"}},
        "_embedded": {
            "entity": {
                "id": event["entity_id"],
                "_links": {"self": {"href": f"{base}/api/v4/{entity_kind}/{event['entity_id']}"}},
            }
        },
    }


def _matches_type(event: Record, types: set[str]) -> bool:
    if event["type"] in types:
        return True
    if event["type"] == "custom_field_value_changed":
        field_id = event["value_after"] or event["value_before"]
        if field_id:
            key = field_id[0]["custom_field_value"]["field_id"]
            return f"custom_field_{key}_value_changed" in types
    return False


def _created_range(spec: Any) -> tuple[int | None, int | None]:
    if isinstance(spec, dict):
        low = as_int(spec["from"], "filter[created_at][from]") if "from" in spec else None
        high = as_int(spec["to"], "filter[created_at][to]") if "to" in spec else None
        return low, high
    parts = as_list(spec)  # the SDK's "from,to" form, or one timestamp = events since
    if len(parts) == 2:
        return as_int(parts[0], "filter[created_at]"), as_int(parts[1], "filter[created_at]")
    return (as_int(parts[0], "filter[created_at]"), None) if parts else (None, None)


def _status_filter(spec: Any) -> set[tuple[int, int]]:
    items = spec.get("leads_statuses") if isinstance(spec, dict) else None
    if isinstance(items, dict):
        items = list(items.values())
    pairs = set()
    for item in items or []:
        pairs.add(
            (
                as_int(item.get("pipeline_id"), "pipeline_id"),
                as_int(item.get("status_id"), "status_id"),
            )
        )
    return pairs


def _event_filters(filters: dict[str, Any]) -> list[Callable[[Record], bool]]:
    checks: list[Callable[[Record], bool]] = []
    if "id" in filters:
        ids = set(as_list(filters["id"]))
        checks.append(lambda e: e["id"] in ids)
    if "type" in filters:
        types = set(as_list(filters["type"]))
        checks.append(lambda e: _matches_type(e, types))
    if "entity" in filters:
        kinds = set(as_list(filters["entity"]))
        checks.append(lambda e: e["entity_type"] in kinds)
    for key in ("entity_id", "created_by"):
        if key in filters:
            wanted = set(int_list(filters[key], f"filter[{key}]"))
            checks.append(lambda e, k=key, w=wanted: e[k] in w)  # type: ignore[misc]
    if "created_at" in filters:
        low, high = _created_range(filters["created_at"])
        checks.append(
            lambda e: (
                (low is None or e["created_at"] >= low)
                and (high is None or e["created_at"] <= high)
            )
        )
    if "value_after" in filters:
        pairs = _status_filter(filters["value_after"])
        checks.append(lambda e: any(_stage_of_value(v) in pairs for v in e["value_after"]))
    return checks


def _stage_of_value(value: Record) -> tuple[Any, Any]:
    status = value.get("lead_status") or {}
    return status.get("pipeline_id"), status.get("id")


def select(store: Store, params: dict[str, Any]) -> list[Record]:
    """Matching events, newest first."""
    filters = params.get("filter") or {}
    if not isinstance(filters, dict):
        raise ApiError(400, "filter must be an object")
    checks = _event_filters(filters)
    return [e for e in reversed(store.events) if all(check(e) for check in checks)]


def list_events(store: Store, request: Request, _: dict[str, str]) -> Response:
    params = query(request)
    page = Page.of(params, max_limit=EVENTS_LIMIT)
    return list_page(
        request, store.base_url, "events", select(store, params), page, lambda e: render(store, e)
    )


def get_event(store: Store, request: Request, path: dict[str, str]) -> Response:
    found = next((e for e in store.events if e["id"] == path["id"]), None)
    if found is None:
        raise ApiError(404, f"Event {path['id']} not found")
    return hal(render(store, found))


ROUTES: list[Route] = [
    route("GET", "/api/v4/events", list_events),
    route("GET", "/api/v4/events/{id:str}", get_event),
]
