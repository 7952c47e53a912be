"""The daemon honours ``policies.mirror_notes`` of the mapping in force, also after a reload.

A partner's note arrives as an amoCRM ``note_lead`` webhook (a hint); the pass it
starts reads both sides' notes in bulk and mirrors them where the mapping says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import inbox
from sync.runtime.daemon import Daemon, DaemonOptions
from tests.daemon.helpers import partner_deal_id, route_new_deal, wait_for

OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),  # only webhooks move deals
    drain_every=dt.timedelta(milliseconds=100),
    debounce=dt.timedelta(milliseconds=200),
    watch_every=dt.timedelta(milliseconds=200),
)
ON = "    mirror_notes: true          # mirror notes/comments both ways"
OFF = "    mirror_notes: false         # mirror notes/comments both ways"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        text = started.mapping_path.read_text("utf-8")
        assert ON in text, "the example mapping turns notes mirroring on"
        started.mapping_path.write_text(text.replace(ON, OFF), "utf-8")
        yield started


def _mirrored(world: SandboxWorld, deal_id: str, text: str) -> bool:
    portal = world.agency.portal
    with portal.lock:
        return any(
            str(r["ENTITY_ID"]) == deal_id and text in str(r["COMMENT"])
            for r in portal.comments.values()
        )


def _handled(daemon: Daemon) -> bool | None:
    """True once the inbox holds no hint: every delivered event went through a pass."""
    assert daemon.store is not None
    with daemon.store.transaction() as session:
        return not inbox.pending_count(session) or None


def test_notes_follow_the_mapping_in_force_through_a_reload(world: SandboxWorld) -> None:
    daemon = Daemon(world.settings(), options=OPTIONS).start()
    try:
        assert daemon.server is not None and daemon.runner is not None
        world.connect_webhooks(daemon.server.url)
        assert daemon.runner.wait_idle(60)
        deal_id = route_new_deal(world, daemon, "alfa", 7)
        lead = wait_for(lambda: partner_deal_id(daemon, "alfa", deal_id), timeout=30)
        assert lead is not None, "the deal never reached the partner"

        # Off in the mapping: the partner's note is seen (its webhook drives a pass) and
        # left where it is.
        world.alfa.add_note(int(lead), "Первая заметка партнёра")
        assert world.alfa.outbox.wait_idle(), "the note's webhook was not delivered"
        assert wait_for(lambda: _handled(daemon), timeout=20), "its hint was never handled"
        assert not _mirrored(world, deal_id, "Первая заметка партнёра")

        # The admin turns it on; the daemon reloads the mapping and mirrors the next note
        # (and the first, which it now sees too).
        text = world.mapping_path.read_text("utf-8")
        world.mapping_path.write_text(text.replace(OFF, ON), "utf-8")
        engine = daemon.engine
        assert engine is not None
        on = wait_for(
            lambda: engine.mapping.partners["alfa"].policies.mirror_notes or None, timeout=20
        )
        assert on, "the daemon did not reload the mapping"
        world.alfa.add_note(int(lead), "Вторая заметка партнёра")
        assert wait_for(lambda: _mirrored(world, deal_id, "Вторая заметка") or None, timeout=20)
        assert _mirrored(world, deal_id, "Первая заметка партнёра")
    finally:
        daemon.stop()
