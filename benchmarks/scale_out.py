"""Scale-out benchmark: first mirror and steady state with 1, 2 and 4 workers on PostgreSQL.

``python -m benchmarks --scale-out`` runs, for each worker count N, on a fresh
PostgreSQL database and a fresh generated sandbox world with real rate limits:
``bridge run`` ×1 plus ``bridge worker`` ×(N-1) as real processes, started at once.

* **first mirror** — from starting the processes until every routed agency deal has
  its partner deal (the start-up catch-up pass), requests per account vs
  :func:`benchmarks.bounds.first_mirror_minimum`;
* **steady** — half the changes edited on the agency side, half on the partners',
  then two polling passes queued (the changes, then their echoes), requests vs
  :func:`benchmarks.bounds.steady_minimum` with the polling passes actually run.

The figure that must not grow with N is requests / minimum; 429 and 503 answers
from the sandboxes must stay zero (the rate budgets are shared in PostgreSQL).
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import bounds
from benchmarks.sandboxes import world
from bridge.sandbox.world import SandboxWorld
from sync.runtime.distributed import POLL_TICK, TICK_LANE
from sync.runtime.queue import QueueRunner
from sync.runtime.runner import EmbeddedRunner

PG_BASE = os.environ.get(
    "BRIDGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BRIDGE = str(Path(sys.executable).with_name("bridge"))
# A polling pass is the agency job's poll (the poll tick queues it and every partner's).
POLL_STARTED = re.compile(r'"action": "start_job".*name=\'agency:poll\'')
Log = Callable[[str], None]


@dataclass
class ScaleParams:
    workers: tuple[int, ...] = (1, 2, 4)
    partners: int = 6
    deals: int = 300
    changes: int = 60
    latency: float = 0.02


@dataclass
class Cluster:
    processes: list[subprocess.Popen[str]]
    lines: list[str] = field(default_factory=list)

    def check(self) -> bool:
        """True; raises with the log's tail when a process has exited."""
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError("a bridge process exited:\n" + "".join(self.lines[-20:]))
        return True

    def polls(self) -> int:
        return sum(1 for line in list(self.lines) if POLL_STARTED.search(line))


@contextmanager
def database() -> Iterator[str]:
    name = f"pb_bench_scaleout_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def cluster(w: SandboxWorld, db_url: str, workers: int) -> Iterator[Cluster]:
    """``bridge run`` and ``workers - 1`` × ``bridge worker``, started together."""
    env = {
        **os.environ,
        "BRIDGE_MAPPING": str(w.mapping_path),
        "BRIDGE_DB_URL": db_url,
        "BRIDGE_HTTP_PORT": str(_free_port()),
        "BRIDGE_LOG_JSON": "true",
    }
    env_file = str(w.directory / ".env")
    commands = [[BRIDGE, "run", "--env-file", env_file]]
    commands += [[BRIDGE, "worker", "--env-file", env_file]] * (workers - 1)
    running = Cluster([])
    pumps: list[threading.Thread] = []
    try:
        for command in commands:
            process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            running.processes.append(process)
            pump = threading.Thread(target=_pump, args=(process, running.lines), daemon=True)
            pump.start()
            pumps.append(pump)
        yield running
    finally:
        for process in running.processes:
            process.terminate()
        for process in running.processes:
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        for pump in pumps:
            pump.join(10)
        for process in running.processes:
            if process.stderr is not None:
                process.stderr.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pump(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stderr is not None
    lines.extend(process.stderr)


def _links(db_url: str) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT agency_deal_id, partner_code, partner_deal_id FROM link "
                    "WHERE partner_deal_id IS NOT NULL"
                )
            ).all()
    except sa.exc.ProgrammingError:  # the tables are not migrated yet
        return {}
    finally:
        engine.dispose()
    return {str(a): (str(c), str(p)) for a, c, p in rows}


def _until(probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        tick.wait(0.2)


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def _refusals(w: SandboxWorld) -> int:
    """429 and 503 answers the sandboxes gave so far."""
    total = 0
    for box in w.boxes().values():
        statuses = box.server.calls.statuses()
        total += statuses.get(429, 0) + statuses.get(503, 0)
    return total


def one(params: ScaleParams, workers: int, log: Log) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp,
        world(Path(tmp), real_limits=True, latency=params.latency, partners=params.partners) as w,
        database() as db_url,
    ):
        ids = w.add_agency_deals(params.deals)
        listed = len(w.agency.deal_ids())
        before, refused, began = w.requests(), _refusals(w), time.perf_counter()
        with cluster(w, db_url, workers) as running:
            _until(
                lambda: running.check() and len(_links(db_url)) >= len(ids), 900, "the first mirror"
            )
            queue = QueueRunner(db_url, {}, EmbeddedRunner(1))
            try:
                _until(lambda: queue.wait_idle(1), 300, "an idle queue")
                first_wall = time.perf_counter() - began
                links = _links(db_url)
                per_partner: dict[str, int] = {}
                for code, _ in links.values():
                    per_partner[code] = per_partner.get(code, 0) + 1
                first_requests = _delta(before, w.requests())
                first_min = bounds.first_mirror_minimum(w.kinds, listed, len(ids), per_partner)
                log(f"{workers} worker(s): first mirror {first_wall:.1f} s")
                log(f"  requests by account {first_requests} vs minimum {first_min}")
                steady = _steady(w, db_url, queue, running, links, params.changes)
            finally:
                queue.shutdown()
        return {
            "workers": workers,
            "first_mirror": {
                "deals": len(ids),
                "requests": sum(first_requests.values()),
                "minimum": sum(first_min.values()),
                "wall": first_wall,
            },
            "steady": steady,
            "refused_429_503": _refusals(w) - refused,
        }


def _steady(
    w: SandboxWorld,
    db_url: str,
    queue: QueueRunner,
    running: Cluster,
    links: dict[str, tuple[str, str]],
    changes: int,
) -> dict[str, Any]:
    from benchmarks.scenarios import _edit_partner_amount

    rng = random.Random(2)
    chosen = rng.sample(sorted(links), min(changes, len(links)))
    agency_side, partner_side = chosen[: changes // 2], chosen[changes // 2 :]
    polls_before, before, began = running.polls(), w.requests(), time.perf_counter()
    agency_changed: dict[str, int] = {}
    for n, aid in enumerate(agency_side):
        w.agency.update_deal(aid, {"TITLE": f"Проект изменён {n}"})
        code = links[aid][0]
        agency_changed[code] = agency_changed.get(code, 0) + 1
    partner_changed: dict[str, int] = {}
    for n, aid in enumerate(partner_side):
        code, pid = links[aid]
        _edit_partner_amount(w, code, pid, 7000 + n)
        partner_changed[code] = partner_changed.get(code, 0) + 1
    for _ in range(2):  # the changes, then their echoes
        w.advance(60)
        queue.defer(POLL_TICK, TICK_LANE)
        _until(lambda: queue.wait_idle(1), 300, "the steady pass")
    wall = time.perf_counter() - began
    passes = running.polls() - polls_before
    requests = _delta(before, w.requests())
    minimum = bounds.steady_minimum(w.kinds, passes, agency_changed, partner_changed)
    return {
        "changes": len(chosen),
        "passes": passes,
        "requests": sum(requests.values()),
        "minimum": sum(minimum.values()),
        "wall": wall,
    }


def run(params: ScaleParams, log: Log) -> list[dict[str, Any]]:
    return [one(params, n, log) for n in params.workers]


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workers | first mirror: deals | requests | minimum | ratio | wall s "
        "| steady: changes | passes | requests | minimum | ratio | wall s | 429/503 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        f, s = row["first_mirror"], row["steady"]
        lines.append(
            f"| {row['workers']} | {f['deals']} | {f['requests']} | {f['minimum']} "
            f"| {f['requests'] / max(1, f['minimum']):.2f} | {f['wall']:.1f} "
            f"| {s['changes']} | {s['passes']} | {s['requests']} | {s['minimum']} "
            f"| {s['requests'] / max(1, s['minimum']):.2f} | {s['wall']:.1f} "
            f"| {row['refused_429_503']} |"
        )
    lines.append("")
    lines.append(
        "Bounds: first mirror ≤ 1.10× its minimum; ratios must not grow with workers; 0 × 429/503."
    )
    return "\n".join(lines)
