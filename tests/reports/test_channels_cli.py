from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from bridge.channels.conflicts import Draft, fingerprints_of, record_handover, screen_new_handovers
from bridge.model import Contact
from bridge.store import inbox
from bridge.store.db import Store
from sync.cli.main import app

NOW = dt.datetime.now(dt.UTC)
IVAN = Contact("Иван", phones=("+7 912 345-67-89",))


def test_held_lists_and_confirm_releases_and_queues_the_deal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    store = Store.open(url)
    with store.transaction() as session:
        record_handover(session, "100", "alfa", fingerprints_of(IVAN), NOW - dt.timedelta(days=2))
        screen_new_handovers(
            session, [Draft("200", "beta", IVAN)], NOW, dt.timedelta(days=90), hold=True
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["channels", "held", "--db-url", url])
    assert listed.exit_code == 0, listed.output
    assert "200 → beta" in listed.output
    assert "Клиент уже передавался партнёру «alfa»" in listed.output
    confirmed = runner.invoke(app, ["channels", "confirm", "200", "beta", "--db-url", url])
    assert confirmed.exit_code == 0, confirmed.output
    with store.transaction() as session:
        queued = inbox.due(session, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    store.close()
    assert [(h.system, h.deal_id, h.source) for h in queued] == [
        ("bitrix24:agency", "200", "confirm")
    ]
    again = runner.invoke(app, ["channels", "confirm", "200", "beta", "--db-url", url])
    assert again.exit_code == 1
    assert "nothing is held" in runner.invoke(app, ["channels", "held", "--db-url", url]).output
