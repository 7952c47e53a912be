"""Leads of the amoCRM sandbox: create, update, delete and the read shape.

Every function here runs under ``store.lock`` and announces what it changed
as a :class:`~bridge.sandbox.amocrm.store.Change`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection
from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import ApiError, invalid
from bridge.sandbox.amocrm.store import LOST, WON, Change, Record, Store

_SCALARS = ("created_by", "updated_by", "created_at", "updated_at", "closed_at", "loss_reason_id")


def prepare_create(store: Store, data: dict[str, Any], rid: str, actor: int) -> Record:
    """A validated new lead, not yet stored (batches validate every element first)."""
    now = store.now()
    lead: Record = {
        "id": 0,
        "name": "",
        "price": 0,
        "responsible_user_id": actor or store.admin_id,
        "group_id": 0,
        "status_id": 0,
        "pipeline_id": 0,
        "loss_reason_id": None,
        "source_id": None,
        "created_by": actor,
        "updated_by": actor,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "closest_task_at": None,
        "is_deleted": False,
        "cf": {},
        "score": None,
        "tags": [],
        "contacts": [],
        "companies": [],
    }
    _apply(store, lead, data, rid, creating=True)
    return lead


def commit_create(store: Store, lead: Record, actor: int, *, quiet: bool = False) -> Record:
    """Store a prepared lead; ``quiet`` skips events and webhooks (bulk seeding)."""
    lead["id"] = store.next_id("lead")
    if not lead["name"]:
        lead["name"] = f"Сделка #{lead['id']}"
    store.leads[lead["id"]] = lead
    if not quiet:
        store.emit(Change("add", "lead", None, copy.deepcopy(lead), actor))
    return lead


def create(
    store: Store, data: dict[str, Any], rid: str, actor: int, *, quiet: bool = False
) -> Record:
    return commit_create(store, prepare_create(store, data, rid, actor), actor, quiet=quiet)


def prepare_update(
    store: Store, lead_id: int, data: dict[str, Any], rid: str, actor: int
) -> Record:
    """The lead as it will be after the patch; the stored one is untouched."""
    current = store.leads.get(lead_id)
    if current is None:
        raise invalid(rid, "id", f"Lead {lead_id} not found", code="NotFound")
    lead = copy.deepcopy(current)
    _apply(store, lead, data, rid, creating=False)
    if "updated_at" not in data:
        lead["updated_at"] = store.now()
    if "updated_by" not in data:
        lead["updated_by"] = actor
    return lead


def commit_update(store: Store, lead: Record, actor: int) -> Record:
    before = store.leads[lead["id"]]
    store.leads[lead["id"]] = lead
    store.emit(Change("update", "lead", before, copy.deepcopy(lead), actor))
    return lead


def update(store: Store, lead_id: int, data: dict[str, Any], rid: str, actor: int) -> Record:
    """Patch one lead; fields not sent stay as they are."""
    return commit_update(store, prepare_update(store, lead_id, data, rid, actor), actor)


def delete(store: Store, lead_id: int, actor: int) -> None:
    lead = store.leads.pop(lead_id, None)
    if lead is None:
        raise KeyError(lead_id)
    before = copy.deepcopy(lead)
    lead["is_deleted"] = True
    store.touch(lead, actor)
    store.trash[lead_id] = lead
    store.emit(Change("delete", "lead", before, copy.deepcopy(lead), actor))


def _apply(store: Store, lead: Record, data: dict[str, Any], rid: str, *, creating: bool) -> None:
    if "name" in data:
        if not isinstance(data["name"], str):
            raise invalid(rid, "name", "This value should be of type string.")
        lead["name"] = data["name"]
    if "price" in data:
        lead["price"] = _price(data["price"], rid)
    if "responsible_user_id" in data:
        user_id = _int(data["responsible_user_id"], rid, "responsible_user_id")
        if user_id not in store.users:
            raise invalid(rid, "responsible_user_id", "User not found", "NotSupportedChoice")
        lead["responsible_user_id"] = user_id
    for key in _SCALARS:
        if key in data:
            lead[key] = None if data[key] is None else _int(data[key], rid, key)
    _apply_stage(store, lead, data, rid, creating=creating)
    if "custom_fields_values" in data:
        lead["cf"] = cf.apply_values(store, "leads", lead["cf"], data["custom_fields_values"], rid)
    _apply_tags(store, lead, data, rid)
    _apply_embedded_links(store, lead, data.get("_embedded"), rid)


def _apply_stage(
    store: Store, lead: Record, data: dict[str, Any], rid: str, *, creating: bool
) -> None:
    pipeline_id = lead["pipeline_id"]
    status_id = data.get("status_id")
    if data.get("pipeline_id") is not None:
        pipeline_id = _int(data["pipeline_id"], rid, "pipeline_id")
        if store.pipeline(pipeline_id) is None:
            raise invalid(rid, "pipeline_id", "Pipeline not found", "NotSupportedChoice")
    elif status_id is not None:
        status_id = _int(status_id, rid, "status_id")
        pipeline_id = store.pipeline_of_status(status_id) or pipeline_id
    if not pipeline_id:
        pipeline_id = store.main_pipeline()["id"]
    if status_id is None:
        moved = pipeline_id != lead["pipeline_id"]
        status_id = store.first_status(pipeline_id) if (creating or moved) else lead["status_id"]
    status_id = _int(status_id, rid, "status_id")
    if store.status(pipeline_id, status_id) is None:
        raise invalid(
            rid, "status_id", "The value you selected is not a valid choice.", "NotSupportedChoice"
        )
    closed_before = lead["status_id"] in (WON, LOST)
    lead["pipeline_id"], lead["status_id"] = pipeline_id, status_id
    closed_now = status_id in (WON, LOST)
    if closed_now and not closed_before and "closed_at" not in data:
        lead["closed_at"] = store.now()
    if not closed_now and "closed_at" not in data:
        lead["closed_at"] = None


def _apply_tags(store: Store, lead: Record, data: dict[str, Any], rid: str) -> None:
    embedded = data.get("_embedded")
    names: list[str] = [t["name"] for t in lead["tags"]]
    if isinstance(embedded, dict) and "tags" in embedded:
        names = [_tag(store, t, rid)["name"] for t in embedded["tags"] or []]
    for tag in data.get("tags_to_add") or []:
        name = _tag(store, tag, rid)["name"]
        if name not in names:
            names.append(name)
    drop = {_tag(store, t, rid)["name"] for t in data.get("tags_to_delete") or []}
    lead["tags"] = [dict(store.tag(n)) for n in names if n not in drop]


def _tag(store: Store, spec: Any, rid: str) -> Record:
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return store.tag(spec["name"])
    if isinstance(spec, dict) and "id" in spec:
        found = store.tag_by_id(_int(spec["id"], rid, "_embedded.tags.id"))
        if found is not None:
            return found
    raise invalid(rid, "_embedded.tags", "Unknown tag", "NotSupportedChoice")


def _apply_embedded_links(store: Store, lead: Record, embedded: Any, rid: str) -> None:
    if not isinstance(embedded, dict):
        return
    if isinstance(embedded.get("contacts"), list):
        for item in embedded["contacts"]:
            if isinstance(item, dict) and "id" in item:
                cid = _int(item["id"], rid, "_embedded.contacts.id")
                if cid not in store.contacts:
                    raise invalid(rid, "_embedded.contacts.id", "Contact not found", "NotFound")
                link_contact(lead, cid, bool(item.get("is_main", not lead["contacts"])))
    if isinstance(embedded.get("companies"), list):
        for item in embedded["companies"][:1]:
            if isinstance(item, dict) and "id" in item:
                company_id = _int(item["id"], rid, "_embedded.companies.id")
                if company_id not in store.companies:
                    raise invalid(rid, "_embedded.companies.id", "Company not found", "NotFound")
                lead["companies"] = [company_id]


def link_contact(lead: Record, contact_id: int, is_main: bool) -> None:
    links: list[Record] = [c for c in lead["contacts"] if c["id"] != contact_id]
    if is_main:
        links = [{"id": c["id"], "is_main": False} for c in links]
    links.append({"id": contact_id, "is_main": is_main or not links})
    lead["contacts"] = links


def render(store: Store, lead: Record, with_: Collection[str] = ()) -> Record:
    """The lead as ``GET /api/v4/leads/{id}`` returns it (``lead_single.json``)."""
    base = store.base_url
    body: Record = {k: lead[k] for k in _READ_KEYS}
    body["custom_fields_values"] = cf.render_values(store, "leads", lead["cf"])
    body["score"] = lead["score"]
    body["account_id"] = store.account_id
    body["_links"] = {"self": {"href": f"{base}/api/v4/leads/{lead['id']}"}}
    embedded: Record = {
        "tags": [dict(t) for t in lead["tags"]],
        "companies": [_ref(base, "companies", c) for c in lead["companies"]],
    }
    if "contacts" in with_:
        # The real API's order: id, is_main, _links (a streaming reader depends on it).
        embedded["contacts"] = [
            {
                "id": c["id"],
                "is_main": c["is_main"],
                "_links": _ref(base, "contacts", c["id"])["_links"],
            }
            for c in lead["contacts"]
        ]
    body["_embedded"] = embedded
    return body


_READ_KEYS = (
    "id",
    "name",
    "price",
    "responsible_user_id",
    "group_id",
    "status_id",
    "pipeline_id",
    "loss_reason_id",
    "source_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "closed_at",
    "closest_task_at",
    "is_deleted",
)


def _ref(base: str, kind: str, entity_id: int) -> Record:
    return {"id": entity_id, "_links": {"self": {"href": f"{base}/api/v4/{kind}/{entity_id}"}}}


def _price(value: Any, rid: str) -> int:
    # The API keeps the budget as an integer; fractions are refused, not rounded.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise invalid(rid, "price", "This value should be of type int.")
    try:
        number = float(value)
    except ValueError:
        raise invalid(rid, "price", "This value should be of type int.") from None
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise invalid(rid, "price", "This value should be of type int.")
    return int(number)


def _int(value: Any, rid: str, path: str) -> int:
    if isinstance(value, bool):
        raise invalid(rid, path, "This value should be of type int.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(rid, path, "This value should be of type int.") from None


def require(store: Store, lead_id: int) -> Record:
    lead = store.leads.get(lead_id)
    if lead is None:
        raise ApiError(404, f"Lead {lead_id} not found")
    return lead
