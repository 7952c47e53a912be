"""Every command finds the same store through the same settings; writers refuse beside a daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.sandbox.world import EXAMPLE_MAPPING as EXAMPLE
from bridge.store import links
from bridge.store.db import Store
from sync.cli.main import app
from tests.engine.http_world import HttpWorld, http_world

BRIDGE = str(Path(sys.executable).with_name("bridge"))
HOLD = """
import sys
from sync.runtime.single import DaemonLock
lock = DaemonLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path / "world") as built:
        yield built


def _project(root: Path, values: dict[str, str]) -> Path:
    """A project folder as the README sets it up: .env with relative paths, mapping.yaml."""
    project = root / "project"
    project.mkdir()
    shutil.copy(EXAMPLE, project / "mapping.yaml")
    lines = ["BRIDGE_DB_URL=sqlite:///bridge.db", "BRIDGE_MAPPING=mapping.yaml"]
    lines += [f"{name}={value}" for name, value in values.items()]
    (project / ".env").write_text("\n".join(lines) + "\n")
    return project


def _bridge(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return subprocess.run(
        [BRIDGE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _partner_deals(hw: HttpWorld) -> int:
    return len(hw.world.alfa.lead_ids()) + len(hw.world.beta.deal_ids())


def test_sync_and_status_from_another_directory_use_the_env_files_store(
    hw: HttpWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, dict(hw.world.env))
    elsewhere, third = tmp_path / "elsewhere", tmp_path / "third"
    elsewhere.mkdir()
    third.mkdir()
    hw.world.add_agency_deals(6, ("alfa", "beta"))
    before = _partner_deals(hw)

    # An admin's shell: a real process in another folder, nothing in its environment.
    first = _bridge(elsewhere, "sync", "--env-file", str(project / ".env"), "--verbose")
    assert first.returncode == 0, first.stderr
    assert f"store: sqlite:///{project.resolve() / 'bridge.db'}" in first.stderr
    created = _partner_deals(hw) - before
    assert created >= 6  # the seeded deals and ours

    # The rest in this process (a process start costs seconds): the same clean environment
    # and working folder a shell would give, so the paths resolve exactly as they would.
    for name in [n for n in os.environ if n.startswith("BRIDGE_")]:
        monkeypatch.delenv(name)
    runner = CliRunner(env={"COLUMNS": "300"})
    # the same .env given relatively from a third folder: same store, nothing created twice
    monkeypatch.chdir(third)
    again = runner.invoke(app, ["sync", "--env-file", "../project/.env"])
    assert again.exit_code == 0, again.output
    assert _partner_deals(hw) - before == created

    monkeypatch.chdir(elsewhere)
    status = runner.invoke(app, ["status", "--env-file", str(project / ".env")])
    assert status.exit_code == 0, status.output
    assert str(project.resolve() / "bridge.db") in status.output
    assert str(project.resolve() / "mapping.yaml") in status.output

    for folder in (elsewhere, third):
        assert not (folder / "bridge.db").exists()
    store = Store.open(f"sqlite:///{project / 'bridge.db'}")
    try:
        with store.transaction() as session:
            assert sum(sum(c.values()) for c in links.counts_by_status(session).values()) >= created
    finally:
        store.close()


def test_writing_commands_refuse_beside_a_daemon_and_readers_keep_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BRIDGE_DB_URL", "BRIDGE_MAPPING"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("BRIDGE_DB_URL=sqlite:///bridge.db\n")
    Store.open(f"sqlite:///{tmp_path / 'bridge.db'}").close()
    runner = CliRunner()
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, f"sqlite:///{tmp_path / 'bridge.db'}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as daemon:
        try:
            assert daemon.stdout is not None and daemon.stdout.readline().strip() == "locked"
            line = (
                f"error: a bridge daemon (pid {daemon.pid}) holds {tmp_path.resolve()}/bridge.db; "
                "it will run the pass — or stop it first"
            )
            for command in (
                ["sync"],
                ["retry", "--all"],
                ["ledger", "pay", "alfa", "100", "--payer", "partner"],
                ["channels", "confirm", "200", "beta"],
                ["digest", "--post-notes", "--mapping", str(EXAMPLE)],
                ["leads", "release", "alfa", "7"],
                ["ledger", "void", "1", "--reason", "typo"],
                ["rates", "set", "USD", "RUB", "92.50"],
            ):
                refused = runner.invoke(app, command)
                assert refused.exit_code == 1, (command, refused.output)
                assert refused.output.strip() == line, command
                assert isinstance(refused.exception, SystemExit), command  # no traceback
            for command in (["status"], ["parked"], ["ledger", "balances"], ["channels", "held"]):
                read = runner.invoke(app, command)
                assert read.exit_code == 0, (command, read.output)
        finally:
            daemon.kill()
    # the daemon is gone: the same writing command now runs
    pay = ["ledger", "pay", "alfa", "100", "--payer", "partner", "--mapping", str(EXAMPLE), "--yes"]
    paid = runner.invoke(app, pay)
    assert paid.exit_code == 0 and "recorded" in paid.output, paid.output


def test_worker_refuses_sqlite_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BRIDGE_DB_URL", raising=False)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: bridge worker needs a PostgreSQL BRIDGE_DB_URL, not "
        f"sqlite:///{tmp_path.resolve()}/bridge.db; on SQLite `bridge run` does all the work"
    )
