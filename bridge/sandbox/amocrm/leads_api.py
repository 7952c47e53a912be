"""HTTP endpoints for leads: list, get, batch create/update, single update."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from bridge.sandbox.amocrm import leads
from bridge.sandbox.amocrm import leads_query as lq
from bridge.sandbox.amocrm.http import (
    ApiError,
    Page,
    as_int,
    as_list,
    hal,
    json_body,
    json_list,
    list_page,
    query,
)
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import Record, Store
from bridge.sandbox.emulator import Request, Response


def _with(params: dict[str, Any]) -> set[str]:
    return set(as_list(params.get("with")))


def list_leads(store: Store, request: Request, _: dict[str, str]) -> Response:
    params = query(request)
    page = Page.of(params)
    wanted = _with(params)
    pool = store.trash.values() if "only_deleted" in wanted else store.leads.values()
    chosen = lq.select(store, pool, params)
    since = _modified_since(request)
    if since is not None:  # the docs recommend it on list requests (reference §3.5)
        chosen = [lead for lead in chosen if lead["updated_at"] >= since]
    return list_page(
        request,
        store.base_url,
        "leads",
        chosen,
        page,
        lambda lead: leads.render(store, lead, wanted),
    )


def _modified_since(request: Request) -> int | None:
    header = request.header("if-modified-since")
    if not header:
        return None
    try:
        return int(parsedate_to_datetime(header).timestamp())
    except (TypeError, ValueError):
        raise ApiError(400, "If-Modified-Since is not an HTTP date") from None


def get_lead(store: Store, request: Request, params: dict[str, str]) -> Response:
    lead = leads.require(store, int(params["id"]))
    return hal(leads.render(store, lead, _with(query(request))))


def _rid(item: dict[str, Any], index: int) -> str:
    rid = item.get("request_id")
    return str(rid) if rid is not None else str(index)


def _added(store: Store, lead: Record, rid: str) -> Record:
    href = f"{store.base_url}/api/v4/leads/{lead['id']}"
    return {"id": lead["id"], "request_id": rid, "_links": {"self": {"href": href}}}


def _patched(store: Store, lead: Record, rid: str | None) -> Record:
    body: Record = {"id": lead["id"], "name": lead["name"], "updated_at": lead["updated_at"]}
    if rid is not None:
        body["request_id"] = rid
    body["_links"] = {"self": {"href": f"{store.base_url}/api/v4/leads/{lead['id']}"}}
    return body


def post_leads(store: Store, request: Request, _: dict[str, str]) -> Response:
    items = json_list(request)
    prepared = [
        (leads.prepare_create(store, item, _rid(item, i), store.admin_id), _rid(item, i))
        for i, item in enumerate(items)
    ]
    created = [(leads.commit_create(store, lead, store.admin_id), rid) for lead, rid in prepared]
    return hal(_envelope(store, [_added(store, lead, rid) for lead, rid in created]))


def patch_leads(store: Store, request: Request, _: dict[str, str]) -> Response:
    items = json_list(request)
    prepared = []
    for index, item in enumerate(items):
        rid = _rid(item, index)
        if "id" not in item:
            raise ApiError(400, "Request validation failed", extra=_missing_id(rid))
        lead_id = as_int(item["id"], "id")
        lead = leads.prepare_update(store, lead_id, item, rid, store.admin_id)
        prepared.append((lead, item.get("request_id")))
    done = [(leads.commit_update(store, lead, store.admin_id), rid) for lead, rid in prepared]
    return hal(_envelope(store, [_patched(store, lead, rid) for lead, rid in done]))


def patch_lead(store: Store, request: Request, params: dict[str, str]) -> Response:
    item = json_body(request)
    if not isinstance(item, dict):
        raise ApiError(400, "Request body must be an object")
    lead_id = int(params["id"])
    leads.require(store, lead_id)
    lead = leads.update(store, lead_id, item, "0", store.admin_id)
    return hal(_patched(store, lead, item.get("request_id")))


def _missing_id(rid: str) -> dict[str, Any]:
    error = {"code": "NotBlank", "path": "id", "detail": "This value should not be blank."}
    return {"validation-errors": [{"request_id": rid, "errors": [error]}]}


def _envelope(store: Store, items: list[Record]) -> Record:
    return {
        "_links": {"self": {"href": f"{store.base_url}/api/v4/leads"}},
        "_embedded": {"leads": items},
    }


ROUTES: list[Route] = [
    route("GET", "/api/v4/leads", list_leads),
    route("POST", "/api/v4/leads", post_leads),
    route("PATCH", "/api/v4/leads", patch_leads),
    route("GET", "/api/v4/leads/{id}", get_lead),
    route("PATCH", "/api/v4/leads/{id}", patch_lead),
]
