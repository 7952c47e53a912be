"""The partner-scale world: many partners, each its own account, synced in this process.

``sandbox_world(partners=N)``: N partners (amoCRM and Bitrix24 mixed), each its own
sandbox with its own real rate limit (amoCRM 7/s; Bitrix24 50 burst, 2/s) and the
simulated latency per request, and one agency portal. The sandboxes run in a child
process of their own (:mod:`benchmarks.sandbox_proc`), answering over real sockets as
remote CRMs do, so this process is the bridge alone. The engine runs here, with every
account's client pacer as ``bridge run`` opens it, so the partners' lanes share
each account's limiter and the agency's one budget. Scenarios, in this order:

* **first mirror** of a few deals per partner (wall time, requests);
* **quiet polls**: passes with nothing to do; each pass's wall time against the bound
  ``1.5 × slowest single partner's round trip + the agency's``, where a round trip is
  that account's quiet listing timed alone (one after another, before the passes);
  a measured pass is timed until its last lane ends (none is left running); its CPU
  is this process's (the bridge's) and, apart, the sandbox process's;
* **webhook trickle with one partner hung**: passes back to back as the daemon runs
  them (each waits ``pass_wait`` s for the lanes; every ``POLL_EVERY``-th polls, the
  others handle the due hints, as the daemon's drain); at the first edit one amoCRM partner
  is pointed at a server (in the sandbox process) that accepts TCP and never answers (the
  onset pass is among the measured edits); each edit at the agency (with its hint) is
  timed until it is at its partner; p99 against 1 s.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.child import JsonChild
from benchmarks.sandboxes import opener
from benchmarks.scenarios import _percentiles
from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import open_all
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.model import Hint, HintKind
from bridge.ratelimit import Pacer
from bridge.sandbox.world_mapping import AMO
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


class SandboxProcess(JsonChild):
    """The world's sandboxes in a child process (:mod:`benchmarks.sandbox_proc`); its
    ``mapping.yaml`` and ``.env`` are in ``directory``."""

    def __init__(self, directory: Path, partners: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        log = (directory / "sandboxes.log").open("ab")
        super().__init__("benchmarks.sandbox_proc", [str(directory), str(partners)], {}, log)
        self.directory = directory
        self.kinds: dict[str, str] = dict(self.ready["kinds"])

    def requests(self) -> dict[str, int]:
        """HTTP requests each account has served so far."""
        return {k: int(v) for k, v in self.call("requests")["requests"].items()}

    def cpu(self) -> float:
        """CPU seconds the sandbox process has used so far."""
        return float(self.call("cpu")["seconds"])

    def open(self) -> tuple[CompiledMapping, dict[str, Crm]]:
        """The world's CRMs opened and its mapping resolved, as ``bridge run`` does."""
        path = self.directory / "mapping.yaml"
        spec = load_mapping(path, Environment.for_mapping(path, process={}))
        crms, failed = open_all(spec, opener)
        if failed:
            raise RuntimeError(f"cannot open the world's CRMs: {failed}")
        report = resolve(spec, crms, fix=False)
        if report.compiled is None or not report.ok:
            raise RuntimeError(f"the world's mapping does not resolve: {report.problems}")
        return report.compiled, crms

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    log(f"partners: {partners} sandboxes starting in their own process")
    with SandboxProcess(directory / "world", partners) as w:
        mapping, crms = w.open()
        try:
            return _scenarios(
                w,
                mapping,
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
    w: SandboxProcess,
    mapping: CompiledMapping,
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
    w.call("latency", seconds=latency)
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
            "amocrm": sum(k == AMO for k in w.kinds.values()),
            "latency": latency,
            "concurrency": engine.concurrency,
        }
        log(f"partners: first mirror of {deals_per_partner} deals x {len(codes)} partners")
        added = w.call("add_deals", count=deals_per_partner * len(codes))["ids"]
        deal_ids = [str(i) for i in added]
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
        result["trickle"] = _trickle(w, engine, store, codes, deal_ids, edits)
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
    w: SandboxProcess, engine: Engine, crms: dict[str, Crm], codes: list[str], polls: int
) -> Result:
    alone = {c: _round_trip(crms[c]) for c in codes}
    agency = _round_trip(crms["agency"])
    slowest = max(alone.values())
    walls, requests, cpu, boxes = [], [], [], []
    for _ in range(polls):
        before, boxes0 = w.requests(), w.cpu()
        began, cpu0 = time.perf_counter(), time.process_time()
        report = engine.sync(wait=WAIT)
        walls.append(time.perf_counter() - began)
        cpu.append(time.process_time() - cpu0)
        boxes.append(w.cpu() - boxes0)
        _all_lanes(report, "a quiet poll")
        requests.append(sum(_delta(before, w.requests()).values()))
        if report.errors or report.writes:
            raise RuntimeError(f"a quiet poll was not quiet: {report.errors or report.writes}")
    return {
        "polls": polls,
        "walls": walls,
        "wall_max": max(walls),
        "requests_per_poll": sum(requests) / polls,
        "bridge_cpu_per_poll": sum(cpu) / polls,
        "sandbox_cpu_per_poll": sum(boxes) / polls,
        "slowest_partner_round_trip": slowest,
        "agency_round_trip": agency,
        "sum_of_partner_round_trips": sum(alone.values()),
        "bound": 1.5 * slowest + agency,
    }


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


def _trickle(
    w: SandboxProcess,
    engine: Engine,
    store: Store,
    codes: list[str],
    deal_ids: list[str],
    edits: int,
) -> Result:
    hung_code = next(c for c in codes if w.kinds[c] == AMO)
    with store.transaction() as session:
        rows = links.by_agency_ids(session, deal_ids)
    linked = {
        r.agency_deal_id: (r.partner_code, r.partner_deal_id)
        for r in rows
        if r.partner_deal_id and r.partner_code != hung_code
    }
    chosen = random.Random(7).sample(sorted(linked), min(edits, len(linked)))
    seconds: list[float] = []
    hung_url = str(w.call("hung")["url"])
    with _PassLoop(engine).running() as loop:
        engine.partners[hung_code] = _hung(engine.partners[hung_code].system, hung_url)
        for n, aid in enumerate(chosen):
            code, pid = linked[aid]
            title = f"Правка {n}"
            began = time.perf_counter()
            w.call("edit", deal=aid, fields={"TITLE": title})
            hint = Hint(engine.agency.system, aid, HintKind.UPDATED, utcnow(), "hook")
            inbox.record(store, [hint], dt.timedelta(0))
            if not w.call("wait_title", code=code, deal=pid, title=title, timeout=WAIT)["arrived"]:
                raise TimeoutError("the edit never reached its partner")
            seconds.append(time.perf_counter() - began)
        onset_seen = bool(w.call("hung_called")["called"])
    return {
        "edits": len(seconds),
        "hung": hung_code,
        "hung_called": onset_seen,
        "hung_reported": hung_code in loop.errors,
        "passes": loop.passes,
        "edit_to_mirrored": _percentiles(seconds),
        "max": max(seconds) if seconds else 0.0,
    }


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
        f"quiet poll CPU per pass: the bridge (this process) {quiet['bridge_cpu_per_poll']:.2f}s, "
        f"the sandboxes (their own process) {quiet['sandbox_cpu_per_poll']:.2f}s",
        f"trickle, {trickle['hung']} hung (called {trickle['hung_called']}, reported "
        f"{trickle['hung_reported']}): n={edits['n']} p50={edits['p50']:.3f}s "
        f"p99={edits['p99']:.3f}s max={trickle['max']:.3f}s over {trickle['passes']} passes",
    ]
