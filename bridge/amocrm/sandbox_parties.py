"""Contacts and companies ("parties") of the sandbox: model and HTTP endpoints.

Both entities share one code path, as in the real API; phones and e-mails are
the predefined ``multitext`` fields with codes ``PHONE`` / ``EMAIL``.
"""

from __future__ import annotations

import copy
from typing import Any

from bridge.amocrm import sandbox_fields as cf
from bridge.amocrm.sandbox_http import (
    ApiError,
    Page,
    as_int,
    as_list,
    hal,
    int_list,
    invalid,
    json_body,
    json_list,
    list_page,
    query,
)
from bridge.amocrm.sandbox_routes import Route, route
from bridge.amocrm.sandbox_store import Record, Store
from bridge.emulator import Request, Response

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


def _search(store: Store, entity: str, record: Record, needle: str) -> bool:
    parts = [record["name"], str(record["id"]), *cf.text_of(record["cf"])]
    digits = "".join(ch for ch in needle if ch.isdigit())
    for part in parts:
        if needle in part.casefold():
            return True
        if len(digits) >= 5 and digits in "".join(ch for ch in part if ch.isdigit()):
            return True  # phone search ignores formatting, as the UI does
    return False


def _handlers(entity: str) -> list[Route]:
    base = f"/api/v4/{entity}"

    def list_all(store: Store, request: Request, _: dict[str, str]) -> Response:
        params = query(request)
        page = Page.of(params)
        records = sorted(table(store, entity).values(), key=lambda r: r["id"])
        filters = params.get("filter") or {}
        if isinstance(filters, dict) and "id" in filters:
            wanted = set(int_list(filters["id"], "filter[id]"))
            records = [r for r in records if r["id"] in wanted]
        text = params.get("query")
        if isinstance(text, str) and text.strip():
            records = [r for r in records if _search(store, entity, r, text.strip().casefold())]
        with_ = set(as_list(params.get("with")))
        return list_page(
            request,
            store.base_url,
            entity,
            records,
            page,
            lambda r: render(store, entity, r, with_),
        )

    def get_one(store: Store, request: Request, params: dict[str, str]) -> Response:
        record = table(store, entity).get(int(params["id"]))
        if record is None:
            return Response(204, b"", {})  # the real API answers a missing contact with 204
        return hal(render(store, entity, record, set(as_list(query(request).get("with")))))

    def post(store: Store, request: Request, _: dict[str, str]) -> Response:
        items = json_list(request)
        rids = [str(item.get("request_id", i)) for i, item in enumerate(items)]
        prepared = [
            prepare(store, entity, item, rid, None) for item, rid in zip(items, rids, strict=True)
        ]
        done = [commit(store, entity, record) for record in prepared]
        out = [
            {
                "id": r["id"],
                "request_id": rid,
                "_links": {"self": {"href": f"{store.base_url}{base}/{r['id']}"}},
            }
            for r, rid in zip(done, rids, strict=True)
        ]
        return hal(
            {"_links": {"self": {"href": store.base_url + base}}, "_embedded": {entity: out}}
        )

    def patch_many(store: Store, request: Request, _: dict[str, str]) -> Response:
        items = json_list(request)
        prepared = [
            _prepare_patch(store, entity, item, str(item.get("request_id", i)))
            for i, item in enumerate(items)
        ]
        done = [commit(store, entity, record) for record in prepared]
        return hal(
            {
                "_links": {"self": {"href": store.base_url + base}},
                "_embedded": {entity: [_patched(store, entity, r) for r in done]},
            }
        )

    def patch_one(store: Store, request: Request, params: dict[str, str]) -> Response:
        item = json_body(request)
        if not isinstance(item, dict):
            raise ApiError(400, "Request body must be an object")
        record = _prepare_patch(store, entity, {**item, "id": int(params["id"])}, "0")
        return hal(_patched(store, entity, commit(store, entity, record)))

    return [
        route("GET", base, list_all),
        route("POST", base, post),
        route("PATCH", base, patch_many),
        route("GET", base + "/{id}", get_one),
        route("PATCH", base + "/{id}", patch_one),
    ]


def _prepare_patch(store: Store, entity: str, item: dict[str, Any], rid: str) -> Record:
    if "id" not in item:
        raise invalid(rid, "id", "This value should not be blank.", "NotBlank")
    current = table(store, entity).get(as_int(item["id"], "id"))
    if current is None:
        raise invalid(rid, "id", "Entity not found", "NotFound")
    return prepare(store, entity, item, rid, current)


def _patched(store: Store, entity: str, record: Record) -> Record:
    href = f"{store.base_url}/api/v4/{entity}/{record['id']}"
    return {
        "id": record["id"],
        "name": record["name"],
        "updated_at": record["updated_at"],
        "_links": {"self": {"href": href}},
    }


ROUTES: list[Route] = [*_handlers("contacts"), *_handlers("companies")]
