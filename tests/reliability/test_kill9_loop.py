"""``bridge run`` as a real process, killed 50 times, restarted, then checked.

Each iteration makes a few random changes on either side, starts the daemon with
``BRIDGE_CRASH_AT`` naming a random crash point (its first pass dies there with
``os._exit``), or with none and a ``SIGKILL`` at a random moment of its first
second. After the loop, one clean daemon run catches up and the invariant
checker reads both CRMs and the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.apply import CRASH_POINTS
from sync.daemon import Daemon, DaemonOptions
from sync.sandbox_world import SandboxWorld, sandbox_world
from tests.reliability.conftest import LONG
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Workload, checker_view, committed_links

BRIDGE = str(Path(sys.executable).with_name("bridge"))
ITERATIONS = 200 if LONG else 50
SIGKILL = "sigkill"
TIMES: list[float] = []
REACH_TIMEOUT = 8.0  # seconds; a first pass reaches its crash point in about one


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


def _run_until_death(world: SandboxWorld, point: str, rng: random.Random) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "BRIDGE_DB_URL": f"sqlite:///{world.directory / 'bridge.db'}",
        "BRIDGE_MAPPING": str(world.mapping_path),
        "BRIDGE_HTTP_PORT": str(_free_port()),
        "BRIDGE_CRASH_AT": "" if point == SIGKILL else point,
    }
    command = [BRIDGE, "run", "--env-file", str(world.directory / ".env")]
    started = time.monotonic()
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            if point == SIGKILL:
                _wait_quietly(proc, rng.uniform(0.3, 1.5))
            else:  # a point the first pass did not reach (nothing to create): kill it anyway
                _wait_quietly(proc, REACH_TIMEOUT)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                point = SIGKILL
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    TIMES.append(time.monotonic() - started)
    return proc.returncode, point, out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_quietly(proc: subprocess.Popen[str], seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=seconds)


def test_fifty_kill9_restarts_keep_every_invariant(world: SandboxWorld) -> None:
    rng = random.Random(20261124)
    outputs: list[str] = []
    deaths: dict[str, int] = {}
    with checker_view(world) as view:
        work = Workload(world, view.mapping, seed=7)
        for _ in range(ITERATIONS):
            work.editable_ids = committed_links(str(world.directory / "bridge.db"))
            work.new_deal()  # something to create: every crash point is on the first pass
            for _ in range(rng.randint(0, 2)):
                work.random_step(view.partners)
            point = rng.choice([*CRASH_POINTS, SIGKILL])
            code, point, out = _run_until_death(world, point, rng)
            outputs.append(out)
            assert code in (137, -signal.SIGKILL), f"{point}: exit {code}\n{out[-2000:]}"
            deaths[point] = deaths.get(point, 0) + 1
        options = DaemonOptions(poll_interval=dt.timedelta(hours=1))
        daemon = Daemon(world.settings(), options=options).start()
        try:
            assert daemon.runner is not None and daemon.runner.wait_idle(120)
        finally:
            daemon.stop()
        assert daemon.store is not None
        store = daemon.store.__class__.open(world.settings().db_url)
        try:
            report = check_invariants(
                view,
                store,
                view.mapping,
                scenario=f"kill -9 loop: {ITERATIONS} deaths of `bridge run`, then one restart",
                faults=", ".join(f"{k}×{v}" for k, v in sorted(deaths.items())),
                changes=work.changes,
                secrets=secrets_of(world.env),
                texts=outputs,
            )
        finally:
            store.close()
    report.assert_ok()
