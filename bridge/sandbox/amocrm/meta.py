"""Account structure of the sandbox: pipelines and statuses, users, the account, field
definitions — their mutation helpers and their HTTP endpoints."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm.http import ApiError, Page, hal, json_list, list_page, query
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import LOST, WON, Record, Store
from bridge.sandbox.emulator import Request, Response

_COLORS = ("#99ccff", "#ffcc66", "#ffff99", "#ccff66", "#deff81", "#87f2c0", "#f9deff")


def add_pipeline(store: Store, name: str, stages: list[str], *, is_main: bool = False) -> int:
    """A pipeline with the unsorted stage, ``stages`` in order, then 142 and 143."""
    pipeline_id = store.next_id("pipeline")
    pipe: Record = {
        "id": pipeline_id,
        "name": name,
        "sort": len(store.pipelines) + 1,
        "is_main": is_main,
        "is_unsorted_on": True,
        "is_archive": False,
        "statuses": [],
    }
    store.pipelines[pipeline_id] = pipe
    _status(store, pipe, store.next_id("status"), "Неразобранное", 10, kind=1, color="#c1c1c1")
    for stage in stages:
        add_status(store, pipeline_id, stage)
    _status(store, pipe, WON, "Успешно реализовано", 10000, color="#CCFF66")
    _status(store, pipe, LOST, "Закрыто и не реализовано", 11000, color="#D5D8DB")
    return pipeline_id


def _status(
    store: Store, pipe: Record, status_id: int, name: str, sort: int, *, kind: int = 0, color: str
) -> Record:
    status = {
        "id": status_id,
        "name": name,
        "sort": sort,
        "is_editable": kind == 0 and status_id not in (WON, LOST),
        "pipeline_id": pipe["id"],
        "color": color,
        "type": kind,
    }
    pipe["statuses"].append(status)
    pipe["statuses"].sort(key=lambda s: s["sort"])
    return status


def add_status(store: Store, pipeline_id: int, name: str) -> int:
    """A new open stage placed after the last open one."""
    pipe = _pipeline(store, pipeline_id)
    open_sorts = [s["sort"] for s in pipe["statuses"] if s["id"] not in (WON, LOST)]
    sort = max(open_sorts, default=0) + 10
    color = _COLORS[len(pipe["statuses"]) % len(_COLORS)]
    return int(_status(store, pipe, store.next_id("status"), name, sort, color=color)["id"])


def rename_status(store: Store, pipeline_id: int, status_id: int, name: str) -> None:
    status = store.status(pipeline_id, status_id)
    if status is None:
        raise KeyError(status_id)
    status["name"] = name


def remove_status(store: Store, pipeline_id: int, status_id: int) -> Record:
    """Drop an editable stage; returns it. Callers move its leads first."""
    pipe = _pipeline(store, pipeline_id)
    status = store.status(pipeline_id, status_id)
    if status is None or not status["is_editable"]:
        raise KeyError(status_id)
    pipe["statuses"].remove(status)
    return status


def _pipeline(store: Store, pipeline_id: int) -> Record:
    pipe = store.pipeline(pipeline_id)
    if pipe is None:
        raise KeyError(pipeline_id)
    return pipe


def add_user(store: Store, name: str, email: str, *, admin: bool = False) -> int:
    user_id = store.next_id("user")
    store.users[user_id] = {"id": user_id, "name": name, "email": email, "is_admin": admin}
    if admin and not store.admin_id:
        store.admin_id = user_id
    return user_id


# --- rendering ---------------------------------------------------------------------


def render_status(store: Store, status: Record) -> Record:
    href = (
        f"{store.base_url}/api/v4/leads/pipelines/{status['pipeline_id']}/statuses/{status['id']}"
    )
    return {**status, "account_id": store.account_id, "_links": {"self": {"href": href}}}


def render_pipeline(store: Store, pipe: Record) -> Record:
    body = {k: v for k, v in pipe.items() if k != "statuses"}
    body["account_id"] = store.account_id
    body["_links"] = {"self": {"href": f"{store.base_url}/api/v4/leads/pipelines/{pipe['id']}"}}
    body["_embedded"] = {"statuses": [render_status(store, s) for s in pipe["statuses"]]}
    return body


def render_user(store: Store, user: Record) -> Record:
    return {
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "lang": "ru",
        "rights": {"is_admin": user["is_admin"], "is_free": False, "is_active": True},
        "_links": {"self": {"href": f"{store.base_url}/api/v4/users/{user['id']}"}},
    }


# --- endpoints ---------------------------------------------------------------------


def _collection(store: Store, path: str, name: str, items: list[Record]) -> Response:
    return hal(
        {
            "_total_items": len(items),
            "_links": {"self": {"href": f"{store.base_url}{path}"}},
            "_embedded": {name: items},
        }
    )


def get_pipelines(store: Store, request: Request, _: dict[str, str]) -> Response:
    items = [render_pipeline(store, p) for p in store.pipelines.values()]
    return _collection(store, request.path, "pipelines", items)


def get_pipeline(store: Store, request: Request, params: dict[str, str]) -> Response:
    pipe = store.pipeline(int(params["id"]))
    if pipe is None:
        raise ApiError(404, f"Pipeline {params['id']} not found")
    return hal(render_pipeline(store, pipe))


def get_statuses(store: Store, request: Request, params: dict[str, str]) -> Response:
    pipe = store.pipeline(int(params["id"]))
    if pipe is None:
        raise ApiError(404, f"Pipeline {params['id']} not found")
    items = [render_status(store, s) for s in pipe["statuses"]]
    return _collection(store, request.path, "statuses", items)


def get_status(store: Store, request: Request, params: dict[str, str]) -> Response:
    status = store.status(int(params["id"]), int(params["status_id"]))
    if status is None:
        raise ApiError(404, f"Status {params['status_id']} not found")
    return hal(render_status(store, status))


def get_users(store: Store, request: Request, _: dict[str, str]) -> Response:
    page = Page.of(query(request))
    users = list(store.users.values())
    return list_page(request, store.base_url, "users", users, page, lambda u: render_user(store, u))


def get_account(store: Store, request: Request, _: dict[str, str]) -> Response:
    return hal(
        {
            "id": store.account_id,
            "name": store.name,
            "subdomain": store.subdomain,
            "created_at": 1_600_000_000,
            "created_by": store.admin_id,
            "updated_at": 1_600_000_000,
            "updated_by": store.admin_id,
            "current_user_id": store.admin_id,
            "country": "RU",
            "currency": "RUB",
            "currency_symbol": "₽",
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": {"self": {"href": f"{store.base_url}/api/v4/account"}},
        }
    )


def _fields_handlers(entity: str) -> list[Route]:
    base = f"/api/v4/{entity}/custom_fields"

    def list_fields(store: Store, request: Request, _: dict[str, str]) -> Response:
        page = Page.of(query(request))
        defs = sorted(store.fields[entity].values(), key=lambda f: (f["sort"], f["id"]))
        return list_page(
            request,
            store.base_url,
            "custom_fields",
            defs,
            page,
            lambda f: cf.render_definition(store, f),
        )

    def get_field(store: Store, request: Request, params: dict[str, str]) -> Response:
        found = store.fields[entity].get(int(params["id"]))
        if found is None:
            raise ApiError(404, f"Custom field {params['id']} not found")
        return hal(cf.render_definition(store, found))

    def post_fields(store: Store, request: Request, _: dict[str, str]) -> Response:
        items = json_list(request)
        rids = [str(item.get("request_id", i)) for i, item in enumerate(items)]
        ready = [cf.prepare(store, entity, x, rid) for x, rid in zip(items, rids, strict=True)]
        for record in ready:
            store.fields[entity][record["id"]] = record
        created = [
            {**cf.render_definition(store, record), "request_id": rid}
            for record, rid in zip(ready, rids, strict=True)
        ]
        return _collection(store, base, "custom_fields", created)

    return [
        route("GET", base, list_fields),
        route("POST", base, post_fields),
        route("GET", base + "/{id}", get_field),
    ]


def _any(_: Any) -> None:
    return None


ROUTES: list[Route] = [
    route("GET", "/api/v4/leads/pipelines", get_pipelines),
    route("GET", "/api/v4/leads/pipelines/{id}", get_pipeline),
    route("GET", "/api/v4/leads/pipelines/{id}/statuses", get_statuses),
    route("GET", "/api/v4/leads/pipelines/{id}/statuses/{status_id}", get_status),
    route("GET", "/api/v4/users", get_users),
    route("GET", "/api/v4/account", get_account),
    *[r for entity in cf.ENTITIES for r in _fields_handlers(entity)],
]
