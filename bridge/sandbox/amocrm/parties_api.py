"""HTTP endpoints for contacts and companies (one class, two instances)."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import (
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
from bridge.sandbox.amocrm.parties import commit, prepare, render, table
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import Record, Store
from bridge.sandbox.emulator import Request, Response


def _search(store: Store, entity: str, record: Record, needle: str) -> bool:
    parts = [record["name"], str(record["id"]), *cf.text_of(record["cf"])]
    digits = "".join(ch for ch in needle if ch.isdigit())
    for part in parts:
        if needle in part.casefold():
            return True
        if len(digits) >= 5 and digits in "".join(ch for ch in part if ch.isdigit()):
            return True  # phone search ignores formatting, as the UI does
    return False


class PartyApi:
    """``/api/v4/contacts`` or ``/api/v4/companies``."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.base = f"/api/v4/{entity}"

    def routes(self) -> list[Route]:
        return [
            route("GET", self.base, self.list_all),
            route("POST", self.base, self.post),
            route("PATCH", self.base, self.patch_many),
            route("GET", self.base + "/{id}", self.get_one),
            route("PATCH", self.base + "/{id}", self.patch_one),
        ]

    def list_all(self, store: Store, request: Request, _: dict[str, str]) -> Response:
        params = query(request)
        page = Page.of(params)
        records = sorted(table(store, self.entity).values(), key=lambda r: r["id"])
        filters = params.get("filter") or {}
        if isinstance(filters, dict) and "id" in filters:
            wanted = set(int_list(filters["id"], "filter[id]"))
            records = [r for r in records if r["id"] in wanted]
        text = params.get("query")
        if isinstance(text, str) and text.strip():
            needle = text.strip().casefold()
            records = [r for r in records if _search(store, self.entity, r, needle)]
        with_ = set(as_list(params.get("with")))
        return list_page(
            request,
            store.base_url,
            self.entity,
            records,
            page,
            lambda r: render(store, self.entity, r, with_),
        )

    def get_one(self, store: Store, request: Request, params: dict[str, str]) -> Response:
        record = table(store, self.entity).get(int(params["id"]))
        if record is None:
            return Response(204, b"", {})  # the real API answers a missing contact with 204
        with_ = set(as_list(query(request).get("with")))
        return hal(render(store, self.entity, record, with_))

    def post(self, store: Store, request: Request, _: dict[str, str]) -> Response:
        items = json_list(request)
        rids = [str(item.get("request_id", i)) for i, item in enumerate(items)]
        prepared = [
            prepare(store, self.entity, x, rid, None) for x, rid in zip(items, rids, strict=True)
        ]
        done = [commit(store, self.entity, record) for record in prepared]
        out = [
            {"id": r["id"], "request_id": rid, "_links": self._link(store, r["id"])}
            for r, rid in zip(done, rids, strict=True)
        ]
        return hal(self._envelope(store, out))

    def patch_many(self, store: Store, request: Request, _: dict[str, str]) -> Response:
        items = json_list(request)
        prepared = [
            _prepare_patch(store, self.entity, item, str(item.get("request_id", i)))
            for i, item in enumerate(items)
        ]
        done = [commit(store, self.entity, record) for record in prepared]
        return hal(self._envelope(store, [_patched(store, self.entity, r) for r in done]))

    def patch_one(self, store: Store, request: Request, params: dict[str, str]) -> Response:
        item = json_body(request)
        if not isinstance(item, dict):
            raise ApiError(400, "Request body must be an object")
        record = _prepare_patch(store, self.entity, {**item, "id": int(params["id"])}, "0")
        return hal(_patched(store, self.entity, commit(store, self.entity, record)))

    def _link(self, store: Store, entity_id: int) -> Record:
        return {"self": {"href": f"{store.base_url}{self.base}/{entity_id}"}}

    def _envelope(self, store: Store, items: list[Record]) -> Record:
        return {
            "_links": {"self": {"href": store.base_url + self.base}},
            "_embedded": {self.entity: items},
        }


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


ROUTES: list[Route] = [*PartyApi("contacts").routes(), *PartyApi("companies").routes()]
