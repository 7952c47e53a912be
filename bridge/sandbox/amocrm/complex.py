"""``POST /api/v4/leads/complex`` and the lead link/unlink endpoints.

Complex add creates a lead with at most one new contact and one new company
and answers a bare array (``leads_complex_add_response*.json``). When
duplicate control is on, a lead whose contact shares a phone or e-mail with
an existing contact that has an open lead is merged into that lead.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm import leads, parties
from bridge.sandbox.amocrm.http import ApiError, as_int, hal, invalid, json_list
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import LOST, WON, Record, Store
from bridge.sandbox.emulator import Request, Response

COMPLEX_LIMIT = 50


def complex_add(store: Store, request: Request, _: dict[str, str]) -> Response:
    items = json_list(request, limit=COMPLEX_LIMIT)
    plans = [_plan(store, item, str(item.get("request_id", i))) for i, item in enumerate(items)]
    return Response.json([_commit(store, plan) for plan in plans], 200, "application/hal+json")


def _plan(store: Store, item: dict[str, Any], rid: str) -> dict[str, Any]:
    embedded = item.get("_embedded") or {}
    if not isinstance(embedded, dict):
        raise invalid(rid, "_embedded", "This value should be of type object.")
    contact_data = _first(embedded.get("contacts"), rid, "contacts")
    company_data = _first(embedded.get("companies"), rid, "companies")
    fields = {k: v for k, v in item.items() if k not in ("_embedded", "request_id")}
    if isinstance(embedded.get("tags"), list):
        fields["_embedded"] = {"tags": embedded["tags"]}
    plan: dict[str, Any] = {"rid": rid, "merge_into": None}
    plan["contact"] = _party(store, "contacts", contact_data, rid)
    plan["company"] = _party(store, "companies", company_data, rid)
    plan["lead"] = leads.prepare_create(store, fields, rid, store.admin_id)
    if store.duplicate_control and plan["contact"] is not None:
        plan["merge_into"] = _duplicate_of(store, plan["contact"])
    return plan


def _party(store: Store, entity: str, data: dict[str, Any] | None, rid: str) -> Record | None:
    """A new contact/company, or an existing one (by ``id``) with the given fields applied."""
    if data is None:
        return None
    current = None
    if "id" in data:
        current = parties.table(store, entity).get(as_int(data["id"], "id"))
        if current is None:
            raise invalid(rid, f"_embedded.{entity}.0.id", "Entity not found", "NotFound")
    return parties.prepare(store, entity, data, rid, current)


def _first(value: Any, rid: str, name: str) -> dict[str, Any] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > 1 or not isinstance(value[0], dict):
        raise invalid(rid, f"_embedded.{name}", f"At most one {name[:-1]} per lead.")
    return value[0]


def _duplicate_of(store: Store, contact: Record) -> tuple[int, int] | None:
    """(lead id, contact id) of an open lead whose contact shares a phone or e-mail."""
    mine = {v["value"] for values in contact["cf"].values() for v in values}
    for existing in store.contacts.values():
        theirs = {v["value"] for values in existing["cf"].values() for v in values}
        if not mine & theirs:
            continue
        for lead_id in parties.linked_leads(store, "contacts", existing["id"]):
            if store.leads[lead_id]["status_id"] not in (WON, LOST):
                return lead_id, existing["id"]
    return None


def _commit(store: Store, plan: dict[str, Any]) -> dict[str, Any]:
    if plan["merge_into"] is not None:
        lead_id, contact_id = plan["merge_into"]
        lead = store.leads[lead_id]
        company_id = lead["companies"][0] if lead["companies"] else None
        return _result(lead_id, contact_id, company_id, plan["rid"], merged=True)
    company = parties.commit(store, "companies", plan["company"]) if plan["company"] else None
    contact = plan["contact"]
    if contact is not None:
        if company is not None:
            contact["companies"] = [company["id"]]
        parties.commit(store, "contacts", contact)
    lead = plan["lead"]
    if contact is not None:
        leads.link_contact(lead, contact["id"], True)
    if company is not None:
        lead["companies"] = [company["id"]]
    leads.commit_create(store, lead, store.admin_id)
    return _result(
        lead["id"],
        contact["id"] if contact else None,
        company["id"] if company else None,
        plan["rid"],
    )


def _result(
    lead_id: int, contact_id: int | None, company_id: int | None, rid: str, *, merged: bool = False
) -> dict[str, Any]:
    return {
        "id": lead_id,
        "contact_id": contact_id,
        "company_id": company_id,
        "request_id": [rid],
        "merged": merged,
    }


# --- links ---------------------------------------------------------------------------


def link_one(store: Store, request: Request, path: dict[str, str]) -> Response:
    return _links(store, request, int(path["id"]), unlink=False)


def unlink_one(store: Store, request: Request, path: dict[str, str]) -> Response:
    return _links(store, request, int(path["id"]), unlink=True)


def link_many(store: Store, request: Request, _: dict[str, str]) -> Response:
    return _links(store, request, None, unlink=False)


def unlink_many(store: Store, request: Request, _: dict[str, str]) -> Response:
    return _links(store, request, None, unlink=True)


def _links(store: Store, request: Request, lead_id: int | None, *, unlink: bool) -> Response:
    items = json_list(request)
    done = []
    for index, item in enumerate(items):
        target = lead_id if lead_id is not None else as_int(item.get("entity_id"), "entity_id")
        lead = store.leads.get(target)
        if lead is None:
            raise invalid(str(index), "entity_id", f"Lead {target} not found", "NotFound")
        done.append(_link(store, lead, item, str(index), unlink=unlink))
    if unlink:
        return Response(204, b"", {})
    href = f"{store.base_url}{request.path}"
    return hal(
        {
            "_total_items": len(done),
            "_links": {"self": {"href": href}},
            "_embedded": {"links": done},
        }
    )


def _link(store: Store, lead: Record, item: dict[str, Any], rid: str, *, unlink: bool) -> Record:
    kind = item.get("to_entity_type")
    to_id = as_int(item.get("to_entity_id"), "to_entity_id")
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else None
    if kind not in ("contacts", "companies") or to_id not in parties.table(store, kind):
        raise invalid(rid, "to_entity_id", "Entity not found", "NotFound")
    updated = dict(lead)
    if kind == "contacts" and unlink:
        updated["contacts"] = [c for c in lead["contacts"] if c["id"] != to_id]
    elif kind == "contacts":
        updated["contacts"] = list(lead["contacts"])
        leads.link_contact(updated, to_id, bool((metadata or {}).get("main_contact", False)))
    else:
        updated["companies"] = [] if unlink else [to_id]
    store.touch(updated, store.admin_id)
    leads.commit_update(store, updated, store.admin_id)
    return {
        "entity_id": lead["id"],
        "entity_type": "leads",
        "to_entity_id": to_id,
        "to_entity_type": kind,
        "metadata": metadata,
    }


def get_links(store: Store, request: Request, path: dict[str, str]) -> Response:
    lead = store.leads.get(int(path["id"]))
    if lead is None:
        raise ApiError(404, f"Lead {path['id']} not found")
    links = [
        {
            "entity_id": lead["id"],
            "entity_type": "leads",
            "to_entity_id": c["id"],
            "to_entity_type": "contacts",
            "metadata": {"main_contact": c["is_main"]},
        }
        for c in lead["contacts"]
    ] + [
        {
            "entity_id": lead["id"],
            "entity_type": "leads",
            "to_entity_id": c,
            "to_entity_type": "companies",
            "metadata": None,
        }
        for c in lead["companies"]
    ]
    if not links:
        return Response(204, b"", {})
    href = f"{store.base_url}{request.path}"
    return hal(
        {
            "_total_items": len(links),
            "_links": {"self": {"href": href}},
            "_embedded": {"links": links},
        }
    )


ROUTES: list[Route] = [
    route("POST", "/api/v4/leads/complex", complex_add),
    route("POST", "/api/v4/leads/link", link_many),
    route("POST", "/api/v4/leads/unlink", unlink_many),
    route("POST", "/api/v4/leads/{id}/link", link_one),
    route("POST", "/api/v4/leads/{id}/unlink", unlink_one),
    route("GET", "/api/v4/leads/{id}/links", get_links),
]
