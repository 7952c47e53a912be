"""Contacts and companies ("parties") of the sandbox: model and HTTP endpoints.

Both entities share one code path, as in the real API; phones and e-mails are
the predefined ``multitext`` fields with codes ``PHONE`` / ``EMAIL``.
"""

from __future__ import annotations

import copy
from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import as_int, invalid
from bridge.sandbox.amocrm.store import Record, Store

PHONE_ENUMS = ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")
EMAIL_ENUMS = ("WORK", "PRIV", "OTHER")


def table(store: Store, entity: str) -> dict[int, Record]:
    return store.contacts if entity == "contacts" else store.companies


def define_standard_fields(store: Store) -> None:
    """The predefined fields every account has."""
    for entity in ("contacts", "companies"):
        spec = {"is_predefined": True, "sort": 4}
        cf.define(
            store,
            entity,
            {"name": "Телефон", "type": "multitext", "code": "PHONE", "enums": PHONE_ENUMS, **spec},
        )
        cf.define(
            store,
            entity,
            {"name": "Email", "type": "multitext", "code": "EMAIL", "enums": EMAIL_ENUMS, **spec},
        )
    cf.define(
        store,
        "contacts",
        {"name": "Должность", "type": "text", "code": "POSITION", "is_predefined": True},
    )
    cf.define(
        store, "companies", {"name": "Web", "type": "url", "code": "WEB", "is_predefined": True}
    )
    cf.define(
        store,
        "companies",
        {"name": "Адрес", "type": "textarea", "code": "ADDRESS", "is_predefined": True},
    )


def prepare(
    store: Store, entity: str, data: dict[str, Any], rid: str, current: Record | None
) -> Record:
    """A validated new or changed contact/company; nothing is stored yet."""
    now = store.now()
    record = copy.deepcopy(current) if current is not None else _blank(store, entity, now)
    for key in ("name", "first_name", "last_name"):
        if key in data and (entity == "contacts" or key == "name"):
            if not isinstance(data[key], str):
                raise invalid(rid, key, "This value should be of type string.")
            record[key] = data[key]
    if (
        entity == "contacts"
        and "name" not in data
        and ("first_name" in data or "last_name" in data)
    ):
        record["name"] = f"{record['first_name']} {record['last_name']}".strip()
    if "responsible_user_id" in data:
        record["responsible_user_id"] = as_int(data["responsible_user_id"], "responsible_user_id")
    if "custom_fields_values" in data:
        record["cf"] = cf.apply_values(
            store, entity, record["cf"], data["custom_fields_values"], rid
        )
    embedded = data.get("_embedded")
    if entity == "contacts" and isinstance(embedded, dict) and embedded.get("companies"):
        company = embedded["companies"][0]
        company_id = as_int(company.get("id"), "_embedded.companies.id")
        if company_id not in store.companies:
            raise invalid(rid, "_embedded.companies.id", "Company not found", "NotFound")
        record["companies"] = [company_id]
    record["updated_at"] = now
    record["updated_by"] = store.admin_id
    return record


def _blank(store: Store, entity: str, now: int) -> Record:
    record: Record = {
        "id": 0,
        "name": "",
        "responsible_user_id": store.admin_id,
        "group_id": 0,
        "created_by": store.admin_id,
        "updated_by": store.admin_id,
        "created_at": now,
        "updated_at": now,
        "closest_task_at": None,
        "is_deleted": False,
        "cf": {},
        "tags": [],
        "companies": [],
    }
    if entity == "contacts":
        record["first_name"] = ""
        record["last_name"] = ""
    return record


def commit(store: Store, entity: str, record: Record) -> Record:
    if not record["id"]:
        record["id"] = store.next_id("contact" if entity == "contacts" else "company")
    table(store, entity)[record["id"]] = record
    return record


def add(store: Store, entity: str, data: dict[str, Any], rid: str = "0") -> Record:
    return commit(store, entity, prepare(store, entity, data, rid, None))


def render(store: Store, entity: str, record: Record, with_: set[str]) -> Record:
    base = store.base_url
    keys = ["id", "name"]
    if entity == "contacts":
        keys += ["first_name", "last_name"]
    keys += ["responsible_user_id", "group_id", "created_by", "updated_by", "created_at"]
    keys += ["updated_at", "closest_task_at", "is_deleted"]
    body: Record = {k: record[k] for k in keys}
    body["custom_fields_values"] = cf.render_values(store, entity, record["cf"])
    body["account_id"] = store.account_id
    body["_links"] = {"self": {"href": f"{base}/api/v4/{entity}/{record['id']}"}}
    embedded: Record = {"tags": [dict(t) for t in record["tags"]]}
    if "leads" in with_:
        embedded["leads"] = [
            _ref(base, "leads", i) for i in linked_leads(store, entity, record["id"])
        ]
    if "customers" in with_:
        embedded["customers"] = []
    if "catalog_elements" in with_:
        embedded["catalog_elements"] = []
    embedded["companies"] = [
        _ref(base, "companies", i) for i in companies_of(store, entity, record)
    ]
    if entity == "companies" and "contacts" in with_:
        embedded["contacts"] = [
            _ref(base, "contacts", c["id"])
            for c in store.contacts.values()
            if record["id"] in c["companies"]
        ]
    body["_embedded"] = embedded
    return body


def companies_of(store: Store, entity: str, record: Record) -> list[int]:
    return list(record["companies"]) if entity == "contacts" else []


def linked_leads(store: Store, entity: str, entity_id: int) -> list[int]:
    if entity == "contacts":
        return [
            lead["id"]
            for lead in store.leads.values()
            if any(c["id"] == entity_id for c in lead["contacts"])
        ]
    return [lead["id"] for lead in store.leads.values() if entity_id in lead["companies"]]


def _ref(base: str, kind: str, entity_id: int) -> Record:
    return {"id": entity_id, "_links": {"self": {"href": f"{base}/api/v4/{kind}/{entity_id}"}}}
