"""The bridge side of a benchmark, in its own process, driven over stdin/stdout.

Run by :class:`benchmarks.child.BridgeProcess`, never by hand. The sandboxes
live in the parent, so this process's peak RSS is the bridge's alone. One JSON
command per line in, one JSON answer per line out:

    {"cmd": "pass", "poll": true}     one ``Engine.sync`` pass
    {"cmd": "hints", "hints": [[system, deal_id, kind], ...]}   webhook hints → inbox
    {"cmd": "quit"}
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import json
import logging
import os
import pstats
import resource
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bridge.mapping.connect import open_all
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.memory import limit_allocator
from bridge.model import Hint, HintKind
from bridge.store.db import Store
from sync.engine import Engine
from sync.sources import inbox


def rss_kb() -> tuple[int, int]:
    """(current, peak) resident set size of this process in KiB.

    The peak is ``VmHWM``, this process's own high-water mark. ``ru_maxrss`` is not:
    Linux carries the high-water mark of the process image an ``exec`` replaced into
    it, so a bridge started from the benchmark process would report that process's
    size (the sandboxes, every deal of the world) as its own peak. ``ru_maxrss`` only
    where ``/proc`` is missing.
    """
    values: dict[str, int] = {}
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    peak = values.get("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return values.get("VmRSS", 0), peak


def _dump_allocations() -> None:
    peak = tracemalloc.get_traced_memory()[1]
    top = tracemalloc.take_snapshot().statistics("lineno")[:15]
    tracemalloc.stop()
    print(f"tracemalloc peak {peak / 2**20:.1f} MiB; live at the end of the pass:", file=sys.stderr)
    for stat in top:
        print(f"  {stat}", file=sys.stderr)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Bridge:
    def __init__(self, mapping: Path, db_url: str, lifted: bool) -> None:
        from benchmarks.sandboxes import lifted_opener, opener

        spec = load_mapping(mapping, Environment(process=dict(os.environ)))
        crms, failed = open_all(spec, lifted_opener if lifted else opener)
        if failed:
            raise SystemExit(f"cannot open: {sorted(failed)}")
        report = resolve(spec, crms, fix=False)
        if report.compiled is None or not report.ok:
            raise SystemExit(f"mapping does not resolve: {report.problems}")
        self.crms = crms
        self.store = Store.open(db_url)
        partners = {c: crms[c] for c in report.compiled.partners}
        self.passes = 0
        self.engine = Engine(self.store, report.compiled, crms["agency"], partners, clock=utcnow)
        self.recording = 0.0  # wall seconds some lane was in the record step, this pass
        self.recording_cpu = 0.0  # CPU seconds the record step's threads used, this pass
        self._recording_since: float | None = None
        self._recording_in = 0  # lanes in the record step now
        self._recording_lock = threading.Lock()
        self._time_recording()
        self._lane_profiles: list[cProfile.Profile] = []
        self.gc_seconds = 0.0  # the collector's pauses during the current pass
        self._gc_began = 0.0
        gc.callbacks.append(self._time_gc)
        if os.environ.get("BENCH_PROFILE"):
            self._profile_lanes()

    def _time_recording(self) -> None:
        """Time the record step (``Recorder.commit_many``) for the share of a pass it takes.

        The lanes record on their own threads, so two records may overlap: the wall time
        counted is when *some* lane was recording (each overlap once, not once per lane).
        A lane's record also waits for the GIL while other lanes plan; ``recording_cpu``
        is the CPU time the recording threads themselves used, for comparison.
        """
        from sync.record import Recorder

        timed = Recorder.commit_many
        bridge = self

        def commit_many(recorder: Recorder, *args: Any, **kwargs: Any) -> list[str]:
            with bridge._recording_lock:
                if bridge._recording_in == 0:
                    bridge._recording_since = time.perf_counter()
                bridge._recording_in += 1
            cpu = time.thread_time()
            try:
                return timed(recorder, *args, **kwargs)
            finally:
                used = time.thread_time() - cpu
                with bridge._recording_lock:
                    bridge.recording_cpu += used
                    bridge._recording_in -= 1
                    if bridge._recording_in == 0 and bridge._recording_since is not None:
                        bridge.recording += time.perf_counter() - bridge._recording_since

        Recorder.commit_many = commit_many  # type: ignore[method-assign,assignment]

    def _time_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        else:
            took = time.perf_counter() - self._gc_began
            self.gc_seconds += took
            if os.environ.get("BENCH_GC_LOG"):
                with open(os.environ["BENCH_GC_LOG"], "a") as f:
                    f.write(f"{info['generation']} {took * 1000:.1f} {info['collected']}\n")

    def _profile_lanes(self) -> None:
        """cProfile sees only the thread that enables it: each partner lane (a pool thread)
        gets a profiler of its own, merged into ``pass<N>-lanes.prof``. Lanes wait for one
        another (the GIL, the handover lock, SQLite's write lock), so their profiles count
        each thread's CPU time (``time.thread_time``), not wall time."""
        lane = Engine._lane
        bridge = self

        def profiled(engine: Engine, *args: Any, **kwargs: Any) -> Any:
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            try:
                return lane(engine, *args, **kwargs)
            finally:
                profiler.disable()
                with bridge._recording_lock:
                    bridge._lane_profiles.append(profiler)

        Engine._lane = profiled  # type: ignore[method-assign,assignment]

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        if command["cmd"] == "pass":
            return self.sync(bool(command.get("poll", True)))
        if command["cmd"] == "hints":
            return self.hints(command["hints"])
        raise ValueError(f"unknown command {command['cmd']!r}")

    def sync(self, poll: bool) -> dict[str, Any]:
        profile = os.environ.get("BENCH_PROFILE")  # a directory: one cProfile dump per pass
        profiler = cProfile.Profile() if profile else None
        tracing = bool(os.environ.get("BENCH_TRACEMALLOC"))  # top allocations → the child's log
        if tracing:
            tracemalloc.start()
        started = time.perf_counter()
        self.recording = self.recording_cpu = self.gc_seconds = 0.0
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        report = self.engine.sync(poll=poll)
        if tracing:
            _dump_allocations()
        if profiler is not None:
            profiler.disable()
            self.passes += 1
            profiler.dump_stats(Path(str(profile)) / f"pass{self.passes}.prof")
            self._dump_lanes(Path(str(profile)) / f"pass{self.passes}-lanes.prof")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        current, peak = rss_kb()
        return {
            "seconds": seconds,
            "record_seconds": self.recording,
            "record_cpu_seconds": self.recording_cpu,
            "cpu_seconds": cpu,
            "gc_seconds": self.gc_seconds,
            "writes": report.writes,
            "verdicts": report.verdicts,
            "errors": report.errors,
            "rss_kb": current,
            "peak_rss_kb": peak,
        }

    def _dump_lanes(self, path: Path) -> None:
        """The pass's lane profiles, merged into one dump (none: no lane ran)."""
        with self._recording_lock:
            profiles, self._lane_profiles = self._lane_profiles, []
        if profiles:
            stats = pstats.Stats(profiles[0])
            for other in profiles[1:]:
                stats.add(other)
            stats.dump_stats(path)

    def hints(self, rows: list[list[str]]) -> dict[str, Any]:
        now = utcnow()
        hints = [
            Hint(system, deal_id, HintKind(kind), now, "webhook") for system, deal_id, kind in rows
        ]
        inbox.record(self.store, hints, dt.timedelta(0))
        return {"recorded": len(hints)}

    def close(self) -> None:
        for crm in self.crms.values():
            crm.close()
        self.store.close()


def daemon(mapping: Path, db_url: str) -> None:
    """``bridge run`` as the daemon does it: webhooks in, inbox ticks, ``poll=False`` passes."""
    from benchmarks.sandboxes import opener
    from bridge.config import load_settings
    from sync.runtime.daemon import Daemon, DaemonOptions

    environ = dict(os.environ) | {
        "BRIDGE_MAPPING": str(mapping),
        "BRIDGE_DB_URL": db_url,
        # The sandboxes' clocks are simulated and run ahead (idle polls advance them), so
        # their events' ts would look like replays from the future.
        "BRIDGE_EVENT_MAX_AGE": "0",
    }
    settings = load_settings(env_file=None, environ=environ)
    # 0: the daemon's default debounce (adapting to the arrival rate); else a fixed one.
    debounce = float(os.environ.get("BENCH_DEBOUNCE", "0"))
    fixed = {"debounce": dt.timedelta(seconds=debounce), "storm_debounce": None}
    options = DaemonOptions(
        poll_interval=dt.timedelta(hours=1),  # only the start-up poll: the webhook path alone
        **(fixed if debounce else {}),  # type: ignore[arg-type]
    )
    running = Daemon(settings, opener=opener, options=options).start()
    assert running.server is not None
    print(json.dumps({"ready": True, "url": running.server.url}), flush=True)
    for line in sys.stdin:
        if json.loads(line)["cmd"] == "quit":
            break
    running.stop()


def main() -> None:
    limit_allocator()  # as the ``bridge`` command does at its start
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if os.environ.get("BENCH_EXPERIMENT"):
        from benchmarks import experiments

        experiments.install(os.environ["BENCH_EXPERIMENT"])
    mapping, db_url, lifted = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "lifted"
    if sys.argv[3] == "daemon":
        daemon(mapping, db_url)
        return
    bridge = Bridge(mapping, db_url, lifted)
    current, peak = rss_kb()
    print(json.dumps({"ready": True, "rss_kb": current, "peak_rss_kb": peak}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        print(json.dumps(bridge.handle(command)), flush=True)
    bridge.close()


if __name__ == "__main__":
    main()
