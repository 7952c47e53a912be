"""Lead notes of the sandbox (``/api/v4/leads/notes``, ``/api/v4/leads/{id}/notes``)."""

from __future__ import annotations

import copy
from typing import Any

from bridge.sandbox.amocrm.http import (
    ApiError,
    Page,
    as_list,
    hal,
    int_list,
    invalid,
    json_list,
    list_page,
    query,
)
from bridge.sandbox.amocrm.leads_query import ordered
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import Change, Record, Store
from bridge.sandbox.emulator import Request, Response

NOTE_TYPES = {
    "common",
    "call_in",
    "call_out",
    "service_message",
    "extended_service_message",
    "message_cashier",
    "geolocation",
    "sms_in",
    "sms_out",
    "attachment",
}


def add_note(store: Store, lead_id: int, data: dict[str, Any], rid: str, actor: int) -> Record:
    """Validate and store one note on a lead; announces it (``note_lead`` webhooks)."""
    note = prepare(store, lead_id, data, rid, actor)
    return commit(store, note, actor)


def prepare(store: Store, lead_id: int, data: dict[str, Any], rid: str, actor: int) -> Record:
    if lead_id not in store.leads:
        raise invalid(rid, "entity_id", f"Lead {lead_id} not found", "NotFound")
    note_type = data.get("note_type", "common")
    if note_type not in NOTE_TYPES:
        raise invalid(
            rid, "note_type", "The value you selected is not a valid choice.", "NotSupportedChoice"
        )
    params = data.get("params") or {}
    if not isinstance(params, dict) or (
        note_type == "common" and not isinstance(params.get("text"), str)
    ):
        raise invalid(rid, "params.text", "This value should be of type string.")
    now = store.now()
    author = int(data.get("created_by") or actor)
    return {
        "id": 0,
        "entity_id": lead_id,
        "created_by": author,
        "updated_by": author,
        "created_at": int(data.get("created_at") or now),
        "updated_at": now,
        "responsible_user_id": int(data.get("responsible_user_id") or author or store.admin_id),
        "group_id": 0,
        "note_type": note_type,
        "params": dict(params),
    }


def commit(store: Store, note: Record, actor: int) -> Record:
    note["id"] = store.next_id("note")
    store.notes[note["id"]] = note
    lead = store.leads.get(note["entity_id"])
    if lead is not None:
        store.emit(Change("note", "lead", None, copy.deepcopy(lead), actor, note=dict(note)))
    return note


def render(store: Store, note: Record) -> Record:
    href = f"{store.base_url}/api/v4/leads/{note['entity_id']}/notes/{note['id']}"
    return {
        **note,
        "params": dict(note["params"]),
        "account_id": store.account_id,
        "_links": {"self": {"href": href}},
    }


def _select(store: Store, params: dict[str, Any], lead_id: int | None) -> list[Record]:
    filters = params.get("filter") or {}
    notes = [n for n in store.notes.values() if lead_id is None or n["entity_id"] == lead_id]
    if isinstance(filters, dict):
        if "id" in filters:
            ids = set(int_list(filters["id"], "filter[id]"))
            notes = [n for n in notes if n["id"] in ids]
        if "entity_id" in filters:
            ids = set(int_list(filters["entity_id"], "filter[entity_id]"))
            notes = [n for n in notes if n["entity_id"] in ids]
        if "note_type" in filters:
            types = set(as_list(filters["note_type"]))
            notes = [n for n in notes if n["note_type"] in types]
    return ordered(notes, params)


def list_notes(store: Store, request: Request, path: dict[str, str]) -> Response:
    params = query(request)
    lead_id = int(path["id"]) if "id" in path else None
    if lead_id is not None and lead_id not in store.leads:
        raise ApiError(404, f"Lead {lead_id} not found")
    chosen = _select(store, params, lead_id)
    return list_page(
        request, store.base_url, "notes", chosen, Page.of(params), lambda n: render(store, n)
    )


def get_note(store: Store, request: Request, path: dict[str, str]) -> Response:
    note = store.notes.get(int(path["note_id"]))
    if note is None or ("id" in path and note["entity_id"] != int(path["id"])):
        raise ApiError(404, f"Note {path['note_id']} not found")
    return hal(render(store, note))


def post_notes(store: Store, request: Request, path: dict[str, str]) -> Response:
    items = json_list(request)
    prepared = []
    for index, item in enumerate(items):
        rid = str(item.get("request_id", index))
        lead_id = int(path["id"]) if "id" in path else item.get("entity_id")
        if not isinstance(lead_id, int):
            raise invalid(rid, "entity_id", "This value should be of type int.")
        prepared.append((prepare(store, lead_id, item, rid, store.admin_id), rid))
    out = []
    for note, rid in prepared:
        commit(store, note, store.admin_id)
        href = f"{store.base_url}/api/v4/leads/{note['entity_id']}/notes/{note['id']}"
        out.append(
            {
                "id": note["id"],
                "entity_id": note["entity_id"],
                "request_id": rid,
                "_links": {"self": {"href": href}},
            }
        )
    self_href = f"{store.base_url}{request.path}"
    return hal({"_links": {"self": {"href": self_href}}, "_embedded": {"notes": out}})


ROUTES: list[Route] = [
    route("GET", "/api/v4/leads/notes", list_notes),
    route("POST", "/api/v4/leads/notes", post_notes),
    route("GET", "/api/v4/leads/notes/{note_id}", get_note),
    route("GET", "/api/v4/leads/{id}/notes", list_notes),
    route("POST", "/api/v4/leads/{id}/notes", post_notes),
    route("GET", "/api/v4/leads/{id}/notes/{note_id}", get_note),
]
