"""``bridge run`` whose SQLite file is deleted under it: hooks 503, not ready, exit 1.

Nothing may be written to the unlinked file (it would be lost at restart) and no
empty database may appear in its place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge.sandbox.world import SandboxWorld, sandbox_world
from tests.daemon.helpers import wait_for
from tests.daemon.process import ADMIN_TOKEN, daemon_process

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


def _hook(url: str, token: str, deal_id: str) -> requests.Response:
    body = {
        "event": "ONCRMDEALUPDATE",
        "data[FIELDS][ID]": deal_id,
        "ts": str(int(time.time())),
        "auth[application_token]": token,
        "auth[domain]": "agency.bitrix24.ru",
    }
    return requests.post(f"{url}/hooks/bitrix24", data=body, timeout=10)


def test_a_deleted_store_file_stops_the_daemon_with_a_message(world: SandboxWorld) -> None:
    log: list[str] = []
    database = world.directory / "bridge.db"
    token = world.env["AGENCY_B24_APP_TOKEN"]
    with daemon_process(world, log) as daemon:
        ready = requests.get(f"{daemon.url}/readyz", headers=ADMIN, timeout=10)
        assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
        # No hook yet: the hooks' own connections open only now, after the deletion.
        deleted_at = time.monotonic()
        for leftover in world.directory.glob("bridge.db*"):
            leftover.unlink()
        # The guard checks every 2 s; the store refuses every write before that already.
        refused = _hook(daemon.url, token, "2")
        assert refused.status_code == 503 and refused.text == "store unavailable: file deleted"
        ready = requests.get(f"{daemon.url}/readyz", headers=ADMIN, timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"].endswith(f"file deleted: {database}")
        code = wait_for(daemon.process.poll, timeout=30, every=0.1)
        stopped_after = time.monotonic() - deleted_at
    assert code == 1, "".join(log[-20:])
    assert stopped_after < 10, f"the daemon took {stopped_after:.1f} s to stop"
    errors = [line for line in log if line.startswith("error: ")]
    assert len(errors) == 1 and f"store file deleted: {database}" in errors[0], errors
    assert not database.exists(), "an empty database was created in place of the lost one"
    print(f"store deleted → daemon exited 1 after {stopped_after:.1f} s: {errors[0].strip()}")
