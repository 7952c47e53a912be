"""Runs the scenarios in their two configurations and gathers one result document.

* **rate-limited** (real limits: Bitrix24 50 burst / 2 per s, amoCRM 7 per s;
  simulated latency per request): first mirror at each ``--deals`` size up to
  ``REAL_MAX``, then, on the smallest world, steady state, idle, storm, latency.
* **scale** (limits lifted, no latency): first mirror at each size from
  ``REAL_MAX`` up, for request counts and the bridge's peak RSS.
* **baseline**: the naive flow (``baseline.py``) over the same scenarios.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import scenarios
from benchmarks.child import BridgeProcess
from benchmarks.sandboxes import sandbox_seconds, world
from bridge.sandbox.world import SandboxWorld

REAL_MAX = 10_000
SCENARIOS = ("first_mirror", "steady", "notes", "idle", "storm", "latency", "scale", "baseline")
NOTES_OFF = "    mirror_notes: false"
NOTES_ON = "    mirror_notes: true"


@dataclass
class Params:
    deals: list[int] = field(default_factory=lambda: [1_000, 10_000, 50_000])
    latency: float = 0.1
    changes: int = 500
    notes_changes: int = 100  # changed deals with a partner note (notes mirroring on)
    idle_polls: int = 10
    storm_events: int = 5_000
    storm_deals: int = 200
    trickle: int = 30
    drain: float = 0.25  # the daemon's inbox tick (DaemonOptions.drain_every)
    # 0: the daemon's default hint debounce (adaptive); then a fixed 0.5 s to compare
    debounces: tuple[float, ...] = (0.0, 0.5)
    scenarios: tuple[str, ...] = SCENARIOS
    experiment: str = ""  # a proposed bridge change tried in the bridge process
    quick: bool = False

    @classmethod
    def quick_run(cls) -> Params:
        return cls(
            deals=[100, 1_000],
            latency=0.02,
            changes=50,
            notes_changes=20,
            idle_polls=3,
            storm_events=500,
            storm_deals=50,
            trickle=6,
            debounces=(0.0,),
            quick=True,
        )

    def real_sizes(self) -> list[int]:
        return [n for n in self.deals if n <= REAL_MAX]

    def scale_sizes(self) -> list[int]:
        limit = REAL_MAX if not self.quick else min(self.deals)
        return [n for n in self.deals if n >= limit]


def machine() -> dict[str, Any]:
    cpu = ""
    info = Path("/proc/cpuinfo")
    if info.exists():
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in info.read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def run(params: Params, log: Any = print) -> dict[str, Any]:
    began = time.perf_counter()
    doc: dict[str, Any] = {
        "suite": "partner-bridge benchmarks",
        "schema": 1,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {k: v for k, v in vars(params).items() if k != "scenarios"}
        | {"scenarios": list(params.scenarios)},
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        _rate_limited(Path(tmp), params, doc["scenarios"], log)
        _scale(Path(tmp), params, doc["scenarios"], log)
        if "baseline" in params.scenarios:
            log("baseline: the naive per-deal flow")
            sizes = params.real_sizes() or params.deals
            doc["scenarios"]["baseline"] = scenarios.baseline(
                Path(tmp),
                min(sizes),
                params.changes,
                params.storm_events,
                params.storm_deals,
                params.latency,
            )
    doc["seconds"] = time.perf_counter() - began
    return doc


def _session(tmp: Path, name: str, real: bool) -> Any:
    directory = tmp / name
    directory.mkdir()
    return directory, world(directory, real_limits=real)


def _rate_limited(tmp: Path, params: Params, out: dict[str, Any], log: Any) -> None:
    wanted = set(params.scenarios) - {"scale", "baseline"}
    if not wanted:
        return
    sizes = params.real_sizes()
    mirrors = []
    for n, size in enumerate(sizes):
        directory, session = _session(tmp, f"real-{size}", True)
        with session as w:
            w.add_agency_deals(size)
            db = directory / "bridge.db"
            with BridgeProcess(w.mapping_path, w.env, db, lifted=False) as bridge:
                w.set_latency(params.latency)
                log(f"first mirror: {size} deals, real limits, latency {params.latency}s")
                mirrors.append(scenarios.first_mirror(w, bridge, size, params.latency))
                mirrors[-1]["sandbox_seconds"] = sandbox_seconds(w)
                if n == 0:
                    _after_mirror(w, bridge, db, params, out, log)
            if n == 0 and "notes" in params.scenarios:
                out["notes"] = _notes(w, db, params, log)
            if n == 0 and "latency" in params.scenarios:
                out["latency"]["daemon"] = _through_daemon(w, db, params, log)
            if n == 0 and "storm" in params.scenarios:
                out["storm"]["daemon"] = _storm_through_daemon(w, db, params, log)
    if "first_mirror" in params.scenarios:
        out["first_mirror"] = mirrors


def _after_mirror(
    w: SandboxWorld, bridge: BridgeProcess, db: Path, params: Params, out: dict[str, Any], log: Any
) -> None:
    scenarios._pass(w, bridge)  # the echoes of the first mirror settle first
    if "steady" in params.scenarios:
        log(f"steady state: {params.changes} changes on both sides")
        out["steady"] = scenarios.steady_state(w, bridge, db, params.changes)
    if "idle" in params.scenarios:
        log(f"idle: {params.idle_polls} polls")
        out["idle"] = scenarios.idle(w, bridge, params.idle_polls)
    if "storm" in params.scenarios:
        log(f"webhook storm: {params.storm_events} events on {params.storm_deals} deals")
        out["storm"] = scenarios.storm(w, bridge, db, params.storm_events, params.storm_deals)
    if "latency" in params.scenarios:
        log(f"latency: {params.trickle} single changes")
        out["latency"] = scenarios.latency(w, bridge, db, params.trickle, params.drain)


def _notes(w: SandboxWorld, db: Path, params: Params, log: Any) -> dict[str, Any]:
    """The notes scenario, by a bridge started on the same store with notes mirroring on."""
    text = w.mapping_path.read_text("utf-8")
    if NOTES_OFF not in text:
        raise RuntimeError("the generated mapping no longer says 'mirror_notes: false'")
    w.mapping_path.write_text(text.replace(NOTES_OFF, NOTES_ON), "utf-8")
    try:
        with BridgeProcess(w.mapping_path, w.env, db, lifted=False) as bridge:
            scenarios._pass(w, bridge)  # a new process: pipelines read, nothing to do
            log(f"notes: {params.notes_changes} changed deals with a partner note each")
            return scenarios.notes(w, bridge, db, params.notes_changes)
    finally:
        w.mapping_path.write_text(text, "utf-8")


def _through_daemon(w: SandboxWorld, db: Path, params: Params, log: Any) -> list[dict[str, Any]]:
    runs = []
    for debounce in params.debounces:
        label = f"{debounce:g}s" if debounce else "adaptive"
        log(f"latency through the daemon: {params.trickle // 2} changes, debounce {label}")
        runs.append(scenarios.daemon_latency(w, db, params.trickle // 2, debounce))
    return runs


def _storm_through_daemon(
    w: SandboxWorld, db: Path, params: Params, log: Any
) -> list[dict[str, Any]]:
    runs = []
    for debounce in params.debounces:
        label = f"{debounce:g}s" if debounce else "adaptive"
        log(f"storm through the daemon: {params.storm_events} edits, debounce {label}")
        runs.append(
            scenarios.daemon_storm(w, db, params.storm_events, params.storm_deals, debounce)
        )
    return runs


def _scale(tmp: Path, params: Params, out: dict[str, Any], log: Any) -> None:
    if "scale" not in params.scenarios:
        return
    runs = []
    for size in params.scale_sizes():
        directory, session = _session(tmp, f"scale-{size}", False)
        with session as w:
            w.add_agency_deals(size)
            with BridgeProcess(w.mapping_path, w.env, directory / "bridge.db", lifted=True) as b:
                log(f"scale: first mirror of {size} deals, limits lifted, no latency")
                runs.append(scenarios.first_mirror(w, b, size, 0.0))
                runs[-1] |= {"sandbox_seconds": sandbox_seconds(w), "scale": True}
    out["scale"] = runs
