"""bridge hooks install/status against the sandboxes, with the daemon receiving."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mapping.compiled import Connection
from bridge.mapping.validate import load_mapping
from bridge.sandbox.world import SandboxWorld, sandbox_world
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.sources.subscriptions import install, status
from tests.daemon.helpers import route_new_deal, wait_for

OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),
    drain_every=dt.timedelta(milliseconds=100),
    debounce=dt.timedelta(milliseconds=200),
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[SandboxWorld, Daemon]]:
    with sandbox_world(tmp_path) as world:
        daemon = Daemon(world.settings(), options=OPTIONS).start()
        try:
            yield world, daemon
        finally:
            daemon.stop()


def _connections(world: SandboxWorld) -> dict[str, Connection]:
    spec = load_mapping(world.mapping_path)
    return {"agency": spec.agency.connection} | {c: p.connection for c, p in spec.partners.items()}


def test_install_registers_amocrm_and_explains_bitrix24(
    running: tuple[SandboxWorld, Daemon],
) -> None:
    world, daemon = running
    assert daemon.server is not None
    lines = install(daemon.server.url, _connections(world), daemon.crms())
    text = "\n".join(lines)
    assert "alfa: amoCRM webhook registered" in text
    assert f"{daemon.server.url}/hooks/bitrix24/beta" in text
    assert "ONCRMDEALUPDATE" in text
    again = install(daemon.server.url, _connections(world), daemon.crms())
    assert "alfa: amoCRM webhook already registered" in "\n".join(again)
    (hook,) = world.alfa.webhooks.hooks.values()
    assert hook["destination"].startswith(f"{daemon.server.url}/hooks/amocrm/alfa/")


def test_status_counts_deliveries_and_flags_a_disabled_hook(
    running: tuple[SandboxWorld, Daemon],
) -> None:
    world, daemon = running
    assert daemon.server is not None and daemon.store is not None
    url, connections = daemon.server.url, _connections(world)
    install(url, connections, daemon.crms())
    for event in ("ONCRMDEALADD", "ONCRMDEALUPDATE"):
        world.agency.register_event_handler(event, f"{url}/hooks/bitrix24")
    deal = route_new_deal(world, daemon, "alfa", 7)
    now = dt.datetime.now(dt.UTC)

    def agency_delivered() -> bool | None:
        assert daemon.store is not None
        rows = {r.label: r for r in status(daemon.store, connections, daemon.crms(), url, now)}
        return True if rows["agency"].deliveries > 0 else None

    assert wait_for(agency_delivered, timeout=20), deal
    rows = {r.label: r for r in status(daemon.store, connections, daemon.crms(), url, now)}
    assert rows["alfa"].registered == "yes" and rows["alfa"].warning == ""
    assert rows["beta"].registered == "set up in the portal"

    (hook,) = world.alfa.webhooks.hooks.values()
    hook["disabled"] = True
    rows = {r.label: r for r in status(daemon.store, connections, daemon.crms(), url, now)}
    assert rows["alfa"].registered == "disabled"
    assert "bridge hooks install" in rows["alfa"].warning
    lines = install(url, connections, daemon.crms())
    assert "alfa: amoCRM webhook re-registered (was disabled)" in "\n".join(lines)
