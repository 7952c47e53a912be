"""Resolution at programme scale: ``bridge sync --partner X``, ``bridge check`` and the
daemon's start with 200 partners, each its own sandbox account, 0.1 s per request.

``python -m benchmarks --resolution`` builds the generated world (200 partners, 60 %
amoCRM, real rate limits), a fresh SQLite store, and times with the product's own code:

* **live, one account at a time** — what every command and start did before (reference);
* **bridge check** — :func:`sync.cli.check.run_check`: every account read live, all at
  once; it refreshes the store's resolution cache;
* **daemon start, cold** — the daemon's start-up (store open, :func:`sync.runtime.daemon.
  mapping_watcher` loading and resolving mapping.yaml) with an empty cache;
* **daemon start, cached** — the same right after (the cache is fresh);
* **bridge sync --partner X** — :func:`sync.cli.passes.run_sync` for one partner with
  nothing to do: the agency and X resolved (from the cache), one pass.

Each figure is printed next to its bound (issue 20) with met / missed, and the
requests the sandboxes served during it.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.sandboxes import opener, world
from bridge.mapping.connect import close_all, open_all
from bridge.mapping.env import Environment
from bridge.mapping.resolve_cache import StoreCache
from bridge.mapping.resolve_catalog import read_catalogs
from bridge.mapping.validate import load_mapping
from bridge.sandbox.world import SandboxWorld
from bridge.store.db import Store
from sync.cli.check import run_check
from sync.cli.passes import run_sync
from sync.runtime.crm_pool import CrmPool
from sync.runtime.daemon import mapping_watcher

Log = Callable[[str], None]


@dataclass
class ResolutionParams:
    partners: int = 200
    latency: float = 0.1
    partner: str = "btx5"  # the one ``bridge sync --partner`` names


@dataclass(frozen=True)
class Figure:
    name: str
    seconds: float
    requests: int
    bound: float | None  # seconds; None: a reference figure

    def verdict(self) -> str:
        if self.bound is None:
            return "reference"
        return "met" if self.seconds <= self.bound else "missed"


class _Measure:
    def __init__(self, w: SandboxWorld) -> None:
        self._w = w
        self.figures: list[Figure] = []

    @contextmanager
    def timed(self, name: str, bound: float | None) -> Iterator[None]:
        before = sum(self._w.requests().values())
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        requests = sum(self._w.requests().values()) - before
        self.figures.append(Figure(name, seconds, requests, bound))


def run(params: ResolutionParams, log: Log) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-resolve-") as tmp:
        log(f"building a world of {params.partners} partners")
        with world(Path(tmp), partners=params.partners, latency=0.0) as w:
            w.set_latency(params.latency)
            return _scenarios(w, params, Path(tmp), log)


def _scenarios(w: SandboxWorld, params: ResolutionParams, tmp: Path, log: Log) -> list[Figure]:
    measure = _Measure(w)
    spec = load_mapping(w.mapping_path, Environment(process=w.env))
    db_url = f"sqlite:///{tmp / 'bridge.db'}"
    store = Store.open(db_url)
    cache = StoreCache(store.engine)
    try:
        log("live resolution, one account at a time (before)")
        crms, _ = open_all(spec, opener)
        try:
            with measure.timed("resolve live, sequential (before)", None):
                read_catalogs(crms, threads=1)
        finally:
            close_all(crms)
        log("bridge check")
        quiet = Console(file=io.StringIO(), width=200)
        with measure.timed("bridge check (live, concurrent)", 10.0):
            run_check(w.mapping_path, console=quiet, opener=opener, db_url=db_url)
        cache.forget()
        log("daemon start, cold cache")
        _daemon_start(w, store, measure, "daemon start, empty cache", 10.0)
        log("daemon start, cached")
        _daemon_start(w, store, measure, "daemon start, cached", 10.0)
        log(f"bridge sync --partner {params.partner}")
        with measure.timed(f"bridge sync --partner {params.partner}", 2.0):
            run_sync(w.mapping_path, store, quiet, partner=params.partner, dry_run=False)
    finally:
        store.close()
    return measure.figures


def _daemon_start(
    w: SandboxWorld, store: Store, measure: _Measure, name: str, bound: float
) -> None:
    """What :meth:`sync.runtime.daemon.Daemon.start` does before its first pass: open the
    store and load + resolve mapping.yaml through the daemon's own watcher."""
    pool = CrmPool(opener)
    try:
        with measure.timed(name, bound):
            again = Store.open(store.engine.url.render_as_string(hide_password=False))
            watcher = mapping_watcher(w.mapping_path, again, pool)
            ok = watcher.poll()
            again.close()
        if not ok or watcher.compiled is None:
            raise RuntimeError(f"the daemon's mapping did not load: {watcher.rejected}")
    finally:
        pool.close()


def table(figures: list[Figure]) -> str:
    lines = [
        f"{'figure':<42} {'seconds':>8} {'bound':>7} {'requests':>9}  verdict",
        "-" * 80,
    ]
    for f in figures:
        bound = "—" if f.bound is None else f"≤ {f.bound:g}"
        lines.append(f"{f.name:<42} {f.seconds:>8.2f} {bound:>7} {f.requests:>9}  {f.verdict()}")
    return "\n".join(lines)
