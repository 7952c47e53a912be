"""The console and cabinet on a real socket, over a seeded store (no CRM behind them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from fastapi import FastAPI

from bridge.secrets import Secret
from bridge.store.db import Store
from sync.runtime.app import HookRoutes, Readiness, create_app
from sync.runtime.metrics import Metrics
from sync.runtime.serve import ServerThread
from sync.web import mount
from sync.web.context import WebContext
from sync.web.links import cabinet_url
from tests.web.seed import ADMIN, NOW, seed, web_context


class _NoSink:
    def put(self, hints: object) -> int:
        return 0


@dataclass
class Site:
    url: str
    ctx: WebContext
    app: FastAPI

    def console(self, name: str = "Анна") -> requests.Session:
        """A browser-like session signed in to the console."""
        http = requests.Session()
        form = http.get(f"{self.url}/console/login", timeout=10)
        csrf = csrf_of(form.text)
        done = http.post(
            f"{self.url}/console/login",
            data={"csrf": csrf, "token": ADMIN, "name": name, "next": "/console/"},
            timeout=10,
        )
        assert done.status_code == 200 and "/console/login" not in done.url, done.text[:300]
        return http

    def link(self, partner: str, days: int = 30) -> str:
        assert self.ctx.key is not None
        with self.ctx.store.transaction() as db:
            return cabinet_url(db, self.ctx.key, self.url, partner, days, NOW)

    def cabinet(self, partner: str) -> requests.Session:
        http = requests.Session()
        opened = http.get(self.link(partner), timeout=10)
        assert opened.status_code == 200, opened.text[:300]
        return http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


@pytest.fixture
def web_store(db_url: str) -> Iterator[Store]:
    """The seeded store, on SQLite and on PostgreSQL (see tests/conftest.py)."""
    store = Store.open(db_url)
    seed(store)
    yield store
    store.close()


def build_app(ctx: WebContext) -> FastAPI:
    app = create_app(
        sink=_NoSink(),
        routes=HookRoutes,
        readiness=lambda: Readiness(True, {"store": "ok"}),
        metrics=Metrics(),
        admin_token=Secret(ADMIN),
        oauth_callback=lambda code, state: "ok",
    )
    mount(app, ctx)
    return app


@pytest.fixture
def site(web_store: Store) -> Iterator[Site]:
    ctx = web_context(web_store)
    app = build_app(ctx)
    with ServerThread(app) as running:
        yield Site(running.url, ctx, app)
