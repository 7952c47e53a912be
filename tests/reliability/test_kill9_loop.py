"""``bridge run`` as a real process, killed 50 times, restarted, then checked.

Each iteration makes a few random changes on either side, starts the daemon with
the test kill switch (:mod:`tests.crash_switch`) armed at a random crash point (its
first pass dies there with ``os._exit``), or unarmed and a ``SIGKILL`` at a random
moment of its first second. After the loop, one clean daemon run catches up and the
invariant checker reads both CRMs and the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sandbox.world import SandboxWorld, sandbox_world
from sync.apply import CRASH_POINTS
from sync.runtime.daemon import Daemon, DaemonOptions
from tests.reliability.conftest import LONG
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Workload, checker_view, committed_links

ITERATIONS = 200 if LONG else 50
SIGKILL = "sigkill"
TIMES: list[float] = []
ROOT = Path(__file__).resolve().parents[2]  # so the forked Python finds tests.crash_switch
REACH_TIMEOUT = 8.0  # seconds; a first pass reaches its crash point in about one


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


ZYGOTE = """
import os, sys
from sync.cli.main import app  # the heavy imports happen once, before any fork
import sync.runtime.daemon, sync.engine, bridge.amocrm.client, bridge.bitrix.client  # noqa: F401
from tests.crash_switch import arm

for line in sys.stdin:
    point, port, log, env_file = line.rstrip("\\n").split("\\t")
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        arm(point)
        os.environ["BRIDGE_HTTP_PORT"] = port
        try:
            app(["run", "--env-file", env_file], prog_name="bridge")
        finally:
            os._exit(3)
    print("pid", pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print("exit", os.waitstatus_to_exitcode(status), flush=True)
"""


class Launcher:
    """Starts ``bridge run`` by forking a pre-imported Python: a real, separate process
    each time (its own pid, threads, sockets, SQLite connections), without paying the
    ~0.7 s of imports 50 times over."""

    def __init__(self, world: SandboxWorld) -> None:
        env = {
            **os.environ,
            "BRIDGE_DB_URL": f"sqlite:///{world.directory / 'bridge.db'}",
            "BRIDGE_MAPPING": str(world.mapping_path),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.world = world
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def _expect(self, word: str, timeout: float) -> int:
        line = self.lines.get(timeout=timeout)
        said, value = line.split()
        assert said == word, line
        return int(value)

    def run_until_death(self, point: str, rng: random.Random, log: Path) -> tuple[int, str]:
        assert self.proc.stdin is not None
        env_file = self.world.directory / ".env"
        crash_at = "" if point == SIGKILL else point
        self.proc.stdin.write(f"{crash_at}\t{_free_port()}\t{log}\t{env_file}\n")
        self.proc.stdin.flush()
        pid = self._expect("pid", 30)
        started = time.monotonic()
        wait = rng.uniform(0.3, 1.5) if point == SIGKILL else REACH_TIMEOUT
        try:
            code = self._expect("exit", wait)
        except queue.Empty:  # still running: a random kill, or a point this pass missed
            os.kill(pid, signal.SIGKILL)
            point = SIGKILL
            code = self._expect("exit", 30)
        TIMES.append(time.monotonic() - started)
        return code, point

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_fifty_kill9_restarts_keep_every_invariant(world: SandboxWorld) -> None:
    rng = random.Random(20261124)
    outputs: list[str] = []
    deaths: dict[str, int] = {}
    launcher = Launcher(world)
    with checker_view(world) as view, contextlib.closing(launcher):
        work = Workload(world, view.mapping, seed=7)
        for _ in range(ITERATIONS):
            work.editable_ids = committed_links(str(world.directory / "bridge.db"))
            work.new_deal()  # something to create: every crash point is on the first pass
            for _ in range(rng.randint(0, 2)):
                work.random_step(view.partners, view.agency)
            point = rng.choice([*CRASH_POINTS, SIGKILL])
            log = world.directory / f"run-{len(outputs)}.log"
            code, point = launcher.run_until_death(point, rng, log)
            out = log.read_text("utf-8", errors="replace")
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
