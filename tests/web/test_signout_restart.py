"""A signed-out session stays out after the daemon restarts (the sign-out is in the store)."""

from __future__ import annotations

import datetime as dt

import requests
from sqlmodel import select

from bridge.cabinet import signouts
from bridge.cabinet.tables import SignedOutRow
from sync.runtime.serve import ServerThread
from tests.web.conftest import Site, build_app, csrf_of
from tests.web.seed import NOW, web_context


def _restarted(site: Site) -> ServerThread:
    """A fresh context and app over the same store: nothing kept in memory survives."""
    return ServerThread(build_app(web_context(site.ctx.store)))


def test_a_console_sign_out_survives_a_restart(site: Site) -> None:
    http = site.console("Анна")
    cookie = http.cookies["pb_console"]
    csrf = csrf_of(http.get(f"{site.url}/console/", timeout=10).text)
    http.post(f"{site.url}/console/logout", data={"csrf": csrf}, timeout=10)
    with _restarted(site) as running:
        again = requests.get(
            f"{running.url}/console/ledger", cookies={"pb_console": cookie}, timeout=10
        )
        assert "/console/login" in again.url
        other = site.console("Вера")  # a session never signed out still works after it
        fresh = requests.get(
            f"{running.url}/console/ledger",
            cookies={"pb_console": other.cookies["pb_console"]},
            timeout=10,
        )
        assert fresh.status_code == 200 and "/console/login" not in fresh.url


def test_a_cabinet_sign_out_survives_a_restart(site: Site) -> None:
    http = site.cabinet("alfa")
    cookie = http.cookies["pb_cabinet"]
    csrf = csrf_of(http.get(f"{site.url}/p/", timeout=10).text)
    http.post(f"{site.url}/p/logout", data={"csrf": csrf}, timeout=10)
    with _restarted(site) as running:
        again = requests.get(f"{running.url}/p/", cookies={"pb_cabinet": cookie}, timeout=10)
        assert again.status_code == 403


def test_expired_sign_outs_are_pruned_by_the_next_one(site: Site) -> None:
    with site.ctx.store.transaction() as db:
        signouts.record(db, "old", "console", NOW + dt.timedelta(hours=1), NOW)
        signouts.record(db, "new", "console", NOW + dt.timedelta(hours=9), NOW)
    later = NOW + dt.timedelta(hours=2)
    with site.ctx.store.transaction() as db:
        signouts.record(db, "newest", "cabinet", later + dt.timedelta(hours=8), later)
        kept = {r.session_id for r in db.exec(select(SignedOutRow))}
        assert signouts.is_signed_out(db, "new") and not signouts.is_signed_out(db, "old")
    assert kept == {"new", "newest"}
