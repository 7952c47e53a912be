"""The partner-scale world: many partners, each its own account, synced in this process.

``sandbox_world(partners=N)``: N partners (amoCRM and Bitrix24 mixed), each its own
sandbox with its own real rate limit (amoCRM 7/s; Bitrix24 50 burst, 2/s) and the
simulated latency per request, and one agency portal. The engine runs here, with
every account's client pacer as ``bridge run`` opens it, so the partners' lanes share
each account's limiter and the agency's one budget. Scenarios, in this order:

* **first mirror** of a few deals per partner (wall time, requests);
* **quiet polls**: passes with nothing to do; each pass's wall time against the bound
  ``1.5 × slowest single partner's round trip + the agency's``, where a round trip is
  that account's quiet listing timed alone (one after another, before the passes);
  a measured pass is timed until its last lane ends (none is left running), and its
  CPU is split into the sandboxes' threads and the bridge's (the sandboxes share
  this process and its GIL);
* **webhook trickle with one partner hung**: passes back to back as the daemon runs
  them (each waits ``pass_wait`` s for the lanes; every ``POLL_EVERY``-th polls, the
  others handle the due hints, as the daemon's drain); at the first edit one amoCRM partner
  is pointed at a server that accepts TCP and never answers (the onset pass is among
  the measured edits); each edit at the agency (with its hint) is timed until it is
  at its partner; p99 against 1 s.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.sandboxes import opener
from benchmarks.scenarios import _partner_title, _percentiles
from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import Crm
from bridge.model import Hint, HintKind
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.secrets import Secret
from bridge.store import links
from bridge.store.db import Store
from sync.engine import Engine, PassReport
from sync.lanes import Lanes
from sync.sources import inbox

Result = dict[str, Any]
WAIT = 120.0  # the most one edit is waited for before the run fails
POLL_EVERY = 5  # in the trickle, every 5th pass polls; the others drain the hints


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run(
    directory: Path,
    *,
    partners: int,
    deals_per_partner: int,
    latency: float,
    quiet_polls: int,
    edits: int,
    pass_wait: float,
    deadline: float,
    log: Callable[[str], None] = print,
) -> Result:
    with sandbox_world(directory, partners=partners, real_limits=True) as w:
        crms = w.resolve(opener)
        try:
            return _scenarios(
                w,
                crms,
                directory,
                deals_per_partner=deals_per_partner,
                latency=latency,
                quiet_polls=quiet_polls,
                edits=edits,
                pass_wait=pass_wait,
                deadline=deadline,
                log=log,
            )
        finally:
            for crm in crms.values():
                crm.close()


def _scenarios(
    w: SandboxWorld,
    crms: dict[str, Crm],
    directory: Path,
    *,
    deals_per_partner: int,
    latency: float,
    quiet_polls: int,
    edits: int,
    pass_wait: float,
    deadline: float,
    log: Callable[[str], None],
) -> Result:
    codes = sorted(w.kinds)
    w.set_latency(latency)
    mapping = w.compiled
    if mapping is None:
        raise RuntimeError("the partner world's mapping did not resolve")
    store = Store.open(f"sqlite:///{directory / 'partners.db'}")
    engine = Engine(
        store,
        mapping,
        crms["agency"],
        {c: crms[c] for c in codes},
        clock=utcnow,
        lanes=Lanes(deadline=deadline, probe=1.0),
        concurrency=len(codes),
        pass_wait=pass_wait,
        retry_delay=dt.timedelta(0),
    )
    try:
        result: Result = {
            "partners": len(codes),
            "amocrm": sum(k == "amocrm" for k in w.kinds.values()),
            "latency": latency,
            "concurrency": engine.concurrency,
        }
        log(f"partners: first mirror of {deals_per_partner} deals x {len(codes)} partners")
        w.add_agency_deals(deals_per_partner * len(codes))
        before, began = w.requests(), time.perf_counter()
        report = engine.sync(wait=WAIT)
        result["first_mirror"] = {
            "deals": deals_per_partner * len(codes),
            "wall": time.perf_counter() - began,
            "requests": sum(_delta(before, w.requests()).values()),
            "errors": dict(report.errors),
        }
        _all_lanes(report, "the first mirror")
        _all_lanes(engine.sync(wait=WAIT), "the first mirror's echoes")
        log("partners: round trips alone, then quiet polls")
        result["quiet"] = _quiet(w, engine, crms, codes, quiet_polls)
        log(f"partners: webhook trickle of {edits} edits with one partner hung")
        result["trickle"] = _trickle(w, engine, store, codes, edits)
    finally:
        engine.close()
        store.close()
    return result


def _all_lanes(report: PassReport, what: str) -> None:
    """A measured pass is timed until every lane has ended: a pass that left one running
    (the engine's ``pass_wait``) would leave its work to overlap the next scenario."""
    if report.running:
        raise RuntimeError(f"{what} ended with lanes still running: {report.running}")


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def _round_trip(crm: Crm) -> float:
    began = time.perf_counter()
    for _ in crm.list_changed(utcnow() - dt.timedelta(seconds=5)):
        pass
    return time.perf_counter() - began


def _quiet(
    w: SandboxWorld, engine: Engine, crms: dict[str, Crm], codes: list[str], polls: int
) -> Result:
    alone = {c: _round_trip(crms[c]) for c in codes}
    agency = _round_trip(crms["agency"])
    slowest = max(alone.values())
    walls, requests, cpu, boxes = [], [], [], []
    clock = _SandboxClock()
    for _ in range(polls):
        before, began = w.requests(), time.perf_counter()
        cpu0, boxes0 = time.process_time(), clock.seconds()
        report = engine.sync(wait=WAIT)
        _all_lanes(report, "a quiet poll")
        walls.append(time.perf_counter() - began)
        cpu.append(time.process_time() - cpu0)
        boxes.append(clock.seconds() - boxes0)
        requests.append(sum(_delta(before, w.requests()).values()))
        if report.errors or report.writes:
            raise RuntimeError(f"a quiet poll was not quiet: {report.errors or report.writes}")
    return {
        "polls": polls,
        "walls": walls,
        "wall_max": max(walls),
        "requests_per_poll": sum(requests) / polls,
        "process_cpu_per_poll": sum(cpu) / polls,
        "sandbox_cpu_per_poll": sum(boxes) / polls,
        "bridge_cpu_per_poll": (sum(cpu) - sum(boxes)) / polls,
        "slowest_partner_round_trip": slowest,
        "agency_round_trip": agency,
        "sum_of_partner_round_trips": sum(alone.values()),
        "bound": 1.5 * slowest + agency,
    }


class _SandboxClock:
    """CPU seconds the sandboxes' own threads used (their HTTP servers and request
    threads: parsing, answering, writing), so a quiet pass's CPU splits into the
    sandboxes' share and the bridge's. The 200 sandboxes run in this process: on a
    GIL they lengthen the bridge's wall, which the bound does not excuse.

    Each request thread's CPU is read from its thread clock while it lives and added
    up when it ends (a keep-alive connection's thread lives across passes)."""

    _ended = 0.0
    _lock = threading.Lock()
    _installed = False

    def __init__(self) -> None:
        cls = type(self)
        with cls._lock:
            if not cls._installed:
                original = socketserver.ThreadingMixIn.process_request_thread

                def counted(server: Any, request: Any, address: Any) -> None:
                    try:
                        original(server, request, address)
                    finally:
                        with cls._lock:
                            cls._ended += time.thread_time()

                socketserver.ThreadingMixIn.process_request_thread = counted  # type: ignore[method-assign,assignment]
                cls._installed = True

    def seconds(self) -> float:
        live = 0.0
        for thread in threading.enumerate():
            if thread.ident is None or not _is_sandbox(thread.name):
                continue
            try:
                live += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except OSError:  # it ended meanwhile: counted in _ended
                continue
        with self._lock:
            return self._ended + live


def _is_sandbox(name: str) -> bool:
    return name.startswith("sandbox:") or "(process_request_thread)" in name


class _PassLoop:
    """Passes back to back on a thread of their own, as the daemon runs them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.passes = 0
        self.errors: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="passes", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Mostly passes over due hints (the daemon's drain), every POLL_EVERY-th a
            # polling pass (its poll interval): the hung partner is called in those.
            report = self.engine.sync(poll=self.passes % POLL_EVERY == 0)
            self.errors |= set(report.errors)
            self.passes += 1

    @contextmanager
    def running(self) -> Iterator[_PassLoop]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=WAIT)


def _hung(system: str, url: str) -> Crm:
    return AmoCrm(
        url,
        LongLivedToken(Secret("hung-partner-token-000000")),
        system=system,
        pacer=Pacer(rate=10_000, burst=10_000),
        timeout=15,
    )


def _trickle(w: SandboxWorld, engine: Engine, store: Store, codes: list[str], edits: int) -> Result:
    from tests.engine.hung import HungServer  # the benchmark borrows the tests' hung server

    hung_code = next(c for c in codes if isinstance(w.partners[c], AmoSandbox))
    with store.transaction() as session:
        rows = links.by_agency_ids(session, w.deal_ids)
    linked = {
        r.agency_deal_id: (r.partner_code, r.partner_deal_id)
        for r in rows
        if r.partner_deal_id and r.partner_code != hung_code
    }
    chosen = random.Random(7).sample(sorted(linked), min(edits, len(linked)))
    seconds: list[float] = []
    with HungServer() as server, _PassLoop(engine).running() as loop:
        engine.partners[hung_code] = _hung(engine.partners[hung_code].system, server.url)
        for n, aid in enumerate(chosen):
            code, pid = linked[aid]
            title = f"Правка {n}"
            began = time.perf_counter()
            w.agency.update_deal(aid, {"TITLE": title})
            hint = Hint(engine.agency.system, aid, HintKind.UPDATED, utcnow(), "hook")
            inbox.record(store, [hint], dt.timedelta(0))
            _wait(functools.partial(_arrived, w, code, str(pid), title))
            seconds.append(time.perf_counter() - began)
        onset_seen = server.accepted.is_set()
    return {
        "edits": len(seconds),
        "hung": hung_code,
        "hung_called": onset_seen,
        "hung_reported": hung_code in loop.errors,
        "passes": loop.passes,
        "edit_to_mirrored": _percentiles(seconds),
        "max": max(seconds) if seconds else 0.0,
    }


def _arrived(w: SandboxWorld, code: str, pid: str, title: str) -> bool:
    return _partner_title(w, code, pid) == title


def _wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the edit never reached its partner")
        time.sleep(0.005)


def targets(result: Result) -> list[dict[str, Any]]:
    """Each figure with its bound (``python -m benchmarks`` prints met / missed)."""
    quiet, trickle = result["quiet"], result["trickle"]
    label = f"{result['partners']} partners"
    return [
        {
            "scenario": label,
            "metric": "quiet poll pass wall (s), worst",
            "measured": quiet["wall_max"],
            "target": quiet["bound"],
        },
        {
            "scenario": label,
            "metric": "webhook edit-to-mirrored p99 (s), one partner hung",
            "measured": trickle["edit_to_mirrored"]["p99"],
            "target": 1.0,
        },
    ]


def table(result: Result) -> str:
    """The targets, each with its bound and met / missed."""
    rows = [f"{'target':<70}{'measured':>10}{'bound':>10}  met", "-" * 96]
    for t in targets(result):
        name = f"{t['scenario']}: {t['metric']}"
        met = "yes" if t["measured"] <= t["target"] else "NO"
        rows.append(f"{name:<70}{t['measured']:>10.3g}{'≤':>3}{t['target']:>7.3g}  {met}")
    return "\n".join(rows)


def lines(result: Result) -> list[str]:
    """The partner-scale figures, one a line, for the printed table."""
    fm, quiet, trickle = result["first_mirror"], result["quiet"], result["trickle"]
    edits = trickle["edit_to_mirrored"]
    return [
        f"{result['partners']} partners ({result['amocrm']} amoCRM), latency "
        f"{result['latency']:g}s per request, {result['concurrency']} lanes at once",
        f"first mirror {fm['deals']} deals: {fm['wall']:.2f}s, {fm['requests']} requests, "
        f"errors {len(fm['errors'])}",
        f"quiet poll: worst {quiet['wall_max']:.3f}s of {quiet['polls']} "
        f"({quiet['requests_per_poll']:.0f} requests); slowest partner alone "
        f"{quiet['slowest_partner_round_trip']:.3f}s, agency {quiet['agency_round_trip']:.3f}s, "
        f"all partners one after another {quiet['sum_of_partner_round_trips']:.1f}s",
        f"quiet poll CPU of this process: {quiet['process_cpu_per_poll']:.2f}s per pass, "
        f"of which the sandboxes' threads {quiet['sandbox_cpu_per_poll']:.2f}s and the "
        f"bridge {quiet['bridge_cpu_per_poll']:.2f}s (one GIL: the wall is at least the sum)",
        f"trickle, {trickle['hung']} hung (called {trickle['hung_called']}, reported "
        f"{trickle['hung_reported']}): n={edits['n']} p50={edits['p50']:.3f}s "
        f"p99={edits['p99']:.3f}s max={trickle['max']:.3f}s over {trickle['passes']} passes",
    ]
