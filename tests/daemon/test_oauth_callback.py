"""A partner's amoCRM grant completed by the daemon's /oauth/amocrm/callback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge.amocrm.oauth import OAuthApp, SqlTokenStore
from bridge.amocrm.onboarding import signed_state
from bridge.sandbox.world import EXAMPLE_MAPPING, SandboxWorld, sandbox_world
from bridge.secrets import Secret
from sync.runtime.daemon import Daemon, DaemonOptions

OAUTH = """      client_id: ${ALFA_CLIENT_ID}
      client_secret: ${ALFA_CLIENT_SECRET}
      redirect_uri: http://127.0.0.1/oauth/amocrm/callback"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    text = EXAMPLE_MAPPING.read_text("utf-8")
    text = text.replace("      token: ${ALFA_AMO_TOKEN}", OAUTH, 1)
    with sandbox_world(tmp_path, mapping_text=text) as started:
        env = started.directory / ".env"
        extra = (
            f"ALFA_CLIENT_ID={started.alfa.client_id}\n"
            f"ALFA_CLIENT_SECRET={started.alfa.client_secret}\n"
        )
        env.write_text(env.read_text("utf-8") + extra, "utf-8")
        yield started


def test_the_daemon_completes_a_grant_it_can_verify(world: SandboxWorld) -> None:
    options = DaemonOptions(poll_interval=dt.timedelta(hours=1))
    daemon = Daemon(world.settings(), options=options).start()
    assert daemon.server is not None and daemon.store is not None
    callback = f"{daemon.server.url}/oauth/amocrm/callback"
    app = OAuthApp(
        "alfa",
        world.alfa.base_url,
        world.alfa.client_id,
        Secret(world.alfa.client_secret),
        "http://127.0.0.1/oauth/amocrm/callback",
    )
    tokens = SqlTokenStore(daemon.store.engine, "alfa")
    try:
        forged = requests.get(
            callback, params={"code": "x", "state": "alfa.nonce.0000"}, timeout=10
        )
        assert forged.status_code == 400 and tokens.load() is None
        state = signed_state(app)
        code = world.alfa.authorize(redirect_uri=app.redirect_uri, state=state)
        granted = requests.get(callback, params={"code": code, "state": state}, timeout=10)
        reused = requests.get(callback, params={"code": code, "state": state}, timeout=10)
        stored = tokens.load()
    finally:
        daemon.stop()
    assert granted.status_code == 200, granted.text
    assert "granted" in granted.text
    assert reused.status_code == 400, "a used code is refused, not stored twice"
    assert stored is not None and stored.refresh.reveal()
