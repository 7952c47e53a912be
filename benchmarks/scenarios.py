"""The scenarios: each drives sandboxes (this process) and the bridge (a child process).

Rate-limited session (real limits, simulated latency): first mirror → steady
state → idle → webhook storm → latency trickle, in one world, passes one
simulated poll interval apart. Scale session (limits lifted, no latency):
first mirror only, for requests and peak RSS at large N.
"""

from __future__ import annotations

import math
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import bounds
from benchmarks.baseline import NaiveSync
from benchmarks.child import BridgeProcess
from benchmarks.sandboxes import world
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.world import SandboxWorld

POLL = 60.0  # simulated seconds between two passes (the mapping's poll_interval)
AGENCY_SYSTEM = "bitrix24:agency"
Result = dict[str, Any]


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def _pass(
    w: SandboxWorld, bridge: BridgeProcess, *, poll: bool = True, advance: bool = True
) -> Result:
    if advance:
        w.advance(POLL)
    before, began = w.requests(), time.perf_counter()
    answer = bridge.call("pass", poll=poll)
    answer["wall"] = time.perf_counter() - began
    answer["requests"] = _delta(before, w.requests())
    return answer


def _kinds(w: SandboxWorld) -> dict[str, str]:
    return {"agency": "bitrix24", **w.kinds}


def _links(db: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT agency_deal_id, partner_code, partner_deal_id FROM link "
            "WHERE partner_deal_id IS NOT NULL"
        ).fetchall()
    return {str(a): (str(c), str(p)) for a, c, p in rows}


def _accounts(requests: dict[str, int], minimum: dict[str, int]) -> dict[str, Any]:
    return {a: {"requests": requests[a], "minimum": minimum.get(a, 0)} for a in requests}


# --- 1. first mirror -------------------------------------------------------------------
def first_mirror(w: SandboxWorld, bridge: BridgeProcess, deals: int, latency: float) -> Result:
    listed = len(w.agency.deal_ids())
    per_partner = {c: 0 for c in w.kinds}
    for n in range(deals):
        per_partner[list(w.kinds)[n % len(w.kinds)]] += 1
    minimum = bounds.first_mirror_minimum(w.kinds, listed, deals, per_partner)
    done = _pass(w, bridge)
    kinds = _kinds(w)
    requests = done["requests"]
    return {
        "deals": deals,
        "latency": latency,
        "accounts": _accounts(requests, minimum),
        "requests": sum(requests.values()),
        "minimum": sum(minimum.values()),
        "wall": done["wall"],
        "engine_seconds": done["seconds"],
        "record_share": done.get("record_seconds", 0.0) / max(done["seconds"], 1e-9),
        # the record step's own CPU (not its waits for the GIL while other lanes plan)
        "record_cpu_share": done.get("record_cpu_seconds", 0.0) / max(done["seconds"], 1e-9),
        "bridge_cpu_seconds": done.get("cpu_seconds", 0.0),
        "bridge_gc_seconds": done.get("gc_seconds", 0.0),
        "rate_bound": bounds.rate_bound(requests, kinds),
        "sequential_bound": bounds.sequential_bound(requests, kinds, latency),
        "peak_rss_mb": done["peak_rss_kb"] / 1024,
        "startup_rss_mb": bridge.ready["peak_rss_kb"] / 1024,
        "verdicts": done["verdicts"],
        "errors": done["errors"],
    }


# --- 2. steady state -------------------------------------------------------------------
def steady_state(w: SandboxWorld, bridge: BridgeProcess, db: Path, changes: int) -> Result:
    links = _links(db)
    rng = random.Random(2)
    chosen = rng.sample(sorted(links), min(changes, len(links)))
    agency_side, partner_side = chosen[: changes // 2], chosen[changes // 2 :]
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
    passes = [_pass(w, bridge), _pass(w, bridge)]  # the changes, then their echoes
    requests = {a: sum(p["requests"][a] for p in passes) for a in passes[0]["requests"]}
    minimum = bounds.steady_minimum(w.kinds, 2, agency_changed, partner_changed)
    lost = _unmirrored(w, links, agency_side, partner_side)
    return {
        "changes": len(chosen),
        "accounts": _accounts(requests, minimum),
        "requests": sum(requests.values()),
        "minimum": sum(minimum.values()),
        "wall": sum(p["wall"] for p in passes),
        "rate_bound": bounds.rate_bound(requests, _kinds(w)),
        "lost": lost,
        "errors": [p["errors"] for p in passes if p["errors"]],
    }


def _edit_partner_amount(w: SandboxWorld, code: str, pid: str, amount: int) -> None:
    box = w.partners[code]
    if isinstance(box, AmoSandbox):
        box.update_lead(int(pid), {"price": amount})
    else:
        box.update_deal(pid, {"OPPORTUNITY": str(amount)})


def _partner_title(w: SandboxWorld, code: str, pid: str) -> str:
    box = w.partners[code]
    if isinstance(box, AmoSandbox):
        return str((box.get_lead(int(pid)) or {}).get("name"))
    return str((box.get_deal(pid) or {}).get("TITLE"))


def _unmirrored(
    w: SandboxWorld,
    links: dict[str, tuple[str, str]],
    agency_side: list[str],
    partner_side: list[str],
) -> int:
    lost = 0
    for aid in agency_side:
        title = str((w.agency.get_deal(aid) or {}).get("TITLE"))
        lost += _partner_title(w, *links[aid]) != title
    for n, aid in enumerate(partner_side):
        amount = (w.agency.get_deal(aid) or {}).get("OPPORTUNITY")
        lost += float(str(amount)) != float(7000 + n)
    return lost


# --- 2b. notes mirroring ------------------------------------------------------------------
def notes(w: SandboxWorld, bridge: BridgeProcess, db: Path, changes: int) -> Result:
    """``changes`` linked deals: a partner note on each, and an agency edit (a poll sees it).

    The bridge runs with ``policies.mirror_notes: true``; the pass that mirrors the notes
    and the pass that sees the echoes are counted, per 100 changed deals.
    """
    links = _links(db)
    chosen = random.Random(3).sample(sorted(links), min(changes, len(links)))
    changed: dict[str, int] = {}
    for n, aid in enumerate(chosen):
        code, pid = links[aid]
        _add_partner_note(w, code, pid, f"Заметка партнёра №{n}")
        w.agency.update_deal(aid, {"TITLE": f"Проект с заметкой {n}"})
        changed[code] = changed.get(code, 0) + 1
    passes = [_pass(w, bridge), _pass(w, bridge)]  # the notes, then the echoes
    requests = {a: sum(p["requests"][a] for p in passes) for a in passes[0]["requests"]}
    minimum = bounds.notes_minimum(w.kinds, len(passes), changed, changed)
    missing = sum(
        not _note_mirrored(w, aid, f"Заметка партнёра №{n}") for n, aid in enumerate(chosen)
    )
    per_100 = 100 / max(1, len(chosen))
    return {
        "changes": len(chosen),
        "accounts": _accounts(requests, minimum),
        "requests": sum(requests.values()),
        "minimum": sum(minimum.values()),
        "per_100": sum(requests.values()) * per_100,
        "minimum_per_100": sum(minimum.values()) * per_100,
        "per_deal_reads_per_100": bounds.per_deal_notes_reads(len(passes), changed) * per_100,
        "wall": sum(p["wall"] for p in passes),
        "lost": missing,
        "errors": [p["errors"] for p in passes if p["errors"]],
    }


def _add_partner_note(w: SandboxWorld, code: str, pid: str, text: str) -> None:
    box = w.partners[code]
    if isinstance(box, AmoSandbox):
        box.add_note(int(pid), text)
    else:
        with box.portal.lock:
            box.portal.add_comment("deal", int(pid), text, 1)


def _note_mirrored(w: SandboxWorld, agency_id: str, text: str) -> bool:
    portal = w.agency.portal
    with portal.lock:
        return any(
            str(r["ENTITY_ID"]) == agency_id and str(r["COMMENT"]).endswith(text)
            for r in portal.comments.values()
        )


# --- 3. idle ---------------------------------------------------------------------------
def idle(w: SandboxWorld, bridge: BridgeProcess, polls: int) -> Result:
    passes = [_pass(w, bridge) for _ in range(polls)]
    per_crm = {a: sum(p["requests"][a] for p in passes) / polls for a in passes[0]["requests"]}
    return {"polls": polls, "per_poll": per_crm, "worst": max(per_crm.values())}


# --- 4. webhook storm ------------------------------------------------------------------
def storm(w: SandboxWorld, bridge: BridgeProcess, db: Path, events: int, deals: int) -> Result:
    links = _links(db)
    chosen = random.Random(4).sample(sorted(links), min(deals, len(links)))
    for aid in chosen:
        w.agency.update_deal(aid, {"TITLE": f"Шторм {aid}"})
    hints = [[AGENCY_SYSTEM, chosen[n % len(chosen)], "updated"] for n in range(events)]
    began = time.perf_counter()
    for start in range(0, len(hints), 500):  # webhooks arrive one by one; record in bursts
        bridge.call("hints", hints=hints[start : start + 500])
    done = _pass(w, bridge, poll=False, advance=False)
    fetches = done["requests"]["agency"]
    lost = sum(_partner_title(w, *links[a]) != f"Шторм {a}" for a in chosen)
    batch = bounds.B24_COMMANDS
    return {
        "events": events,
        "distinct": len(chosen),
        "fetches": fetches,
        "fetch_target": 1.2 * math.ceil(len(chosen) / batch),
        "requests": done["requests"],
        "wall": time.perf_counter() - began,
        "lost": lost,
    }


# --- 5. latency ------------------------------------------------------------------------
def latency(w: SandboxWorld, bridge: BridgeProcess, db: Path, changes: int, drain: float) -> Result:
    """Single agency edits, one at a time, each waited for on the partner side.

    Webhook path: the hint is recorded the moment the edit is made, the daemon's
    inbox tick (``drain`` s) picks it up, a ``poll=False`` pass applies it.
    Poll-only path: the edit lands at a uniformly random moment of the poll
    interval and waits for the next polling pass.
    """
    links = _links(db)
    chosen = random.Random(5).sample(sorted(links), min(changes, len(links)))
    rng = random.Random(6)
    hook, hint_applied, polled = [], [], []
    for n, aid in enumerate(chosen):
        title = f"Правка {n}"
        began = time.perf_counter()
        w.agency.update_deal(aid, {"TITLE": title})
        bridge.call("hints", hints=[[AGENCY_SYSTEM, aid, "updated"]])
        tick = rng.uniform(0, drain)  # where in the drain cycle the hint landed
        hinted = time.perf_counter()
        _pass(w, bridge, poll=False, advance=False)
        _wait(partial(_arrived, w, links[aid], title))
        hint_applied.append(time.perf_counter() - hinted + tick)
        hook.append(time.perf_counter() - began + tick)
    for n, aid in enumerate(chosen[: max(3, changes // 4)]):
        w.agency.update_deal(aid, {"TITLE": f"Опрос {n}"})
        done = _pass(w, bridge)
        polled.append(done["wall"])
    phase = [rng.uniform(0, POLL) for _ in range(1000)]
    poll_only = [p + polled[i % len(polled)] for i, p in enumerate(phase)]
    return {
        "changes": len(chosen),
        "drain_interval": drain,
        "webhook_edit_to_mirrored": _percentiles(hook),
        "webhook_hint_to_applied": _percentiles(hint_applied),
        "poll_pass_seconds": _percentiles(polled),
        "poll_only_edit_to_mirrored": _percentiles(poll_only),
        "poll_interval": POLL,
    }


def _arrived(w: SandboxWorld, link: tuple[str, str], title: str) -> bool:
    return _partner_title(w, *link) == title


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the change never arrived")
        time.sleep(0.005)


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        v = values[0] if values else 0.0
        return {"p50": v, "p95": v, "p99": v, "n": len(values)}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "n": len(values)}


# --- 6. baseline -----------------------------------------------------------------------
def baseline(
    tmp: Path, deals: int, changes: int, events: int, storm_deals: int, latency: float
) -> Result:
    """The naive flow over the same scenarios, limits lifted (its requests are what count)."""
    (tmp / "baseline").mkdir(exist_ok=True)
    with world(tmp / "baseline", real_limits=False) as w:
        ids = w.add_agency_deals(deals)
        naive = NaiveSync(w.agency, w.partners, {c: w.routing(c) for c in w.kinds})
        try:
            mirror = _counted(w, partial(_each, naive.on_agency_deal_added, ids))
            chosen = random.Random(2).sample(ids, min(changes, len(ids)))
            half = len(chosen) // 2

            def steady() -> None:
                for aid in chosen[:half]:
                    naive.on_agency_deal_updated(aid)
                for aid in chosen[half:]:
                    naive.on_partner_deal_updated(*naive.links[aid])

            steady_counts = _counted(w, steady)
            hit = ids[:storm_deals]
            storm_ids = [hit[n % len(hit)] for n in range(events)]
            storm_counts = _counted(w, partial(_each, naive.on_agency_deal_updated, storm_ids))
        finally:
            naive.close()
        kinds = _kinds(w)
    return {
        name: {
            "requests": sum(c.values()),
            "accounts": c,
            "rate_bound": bounds.rate_bound(c, kinds),
            "sequential_bound": bounds.sequential_bound(c, kinds, latency),
            "agency_fetches": c["agency"],
            "deals": deals,
        }
        for name, c in (
            ("first_mirror", mirror),
            ("steady", steady_counts),
            ("storm", storm_counts),
        )
    }


def _each(handler: Callable[[str], None], ids: list[str]) -> None:
    for deal_id in ids:
        handler(deal_id)


def _counted(w: SandboxWorld, work: Callable[[], object]) -> dict[str, int]:
    before = w.requests()
    work()
    return _delta(before, w.requests())


# --- 5b. latency through the daemon ------------------------------------------------------
def daemon_latency(w: SandboxWorld, db: Path, changes: int, debounce: float) -> Result:
    """The real webhook path: sandbox event → POST /hooks/bitrix24 → inbox → tick → pass."""
    links = _links(db)
    chosen = random.Random(7).sample(sorted(links), min(changes, len(links)))
    env = w.env | {"BRIDGE_HTTP_PORT": str(_free_port()), "BENCH_DEBOUNCE": str(debounce)}
    with BridgeProcess(w.mapping_path, env, db, lifted=False, mode="daemon") as daemon:
        _quiet(w)  # the daemon's start-up poll is done
        w.agency.register_event_handler("ONCRMDEALUPDATE", f"{daemon.ready['url']}/hooks/bitrix24")
        times = []
        for n, aid in enumerate(chosen):
            title = f"Вебхук {debounce:g} № {n}"
            began = time.perf_counter()
            w.agency.update_deal(aid, {"TITLE": title})
            _wait(partial(_arrived, w, links[aid], title))
            times.append(time.perf_counter() - began)
    return {"changes": len(chosen), "debounce": debounce, "edit_to_mirrored": _percentiles(times)}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quiet(w: SandboxWorld, still: float = 1.0, timeout: float = 60.0) -> None:
    """Wait until no sandbox has served a request for ``still`` seconds."""
    deadline = time.monotonic() + timeout
    seen, since = w.requests(), time.monotonic()
    while time.monotonic() - since < still:
        if time.monotonic() > deadline:
            raise TimeoutError("the bridge never went quiet")
        time.sleep(0.05)
        now = w.requests()
        if now != seen:
            seen, since = now, time.monotonic()


# --- 4b. the storm through the daemon ----------------------------------------------------
def daemon_storm(w: SandboxWorld, db: Path, events: int, deals: int, debounce: float) -> Result:
    """``events`` real portal edits on ``deals`` deals; each fires ONCRMDEALUPDATE at the daemon."""
    links = _links(db)
    chosen = random.Random(8).sample(sorted(links), min(deals, len(links)))
    env = w.env | {"BRIDGE_HTTP_PORT": str(_free_port()), "BENCH_DEBOUNCE": str(debounce)}
    with BridgeProcess(w.mapping_path, env, db, lifted=False, mode="daemon") as daemon:
        _quiet(w)
        w.agency.register_event_handler("ONCRMDEALUPDATE", f"{daemon.ready['url']}/hooks/bitrix24")
        before, began = w.requests(), time.perf_counter()
        final = {}
        for n in range(events):
            aid = chosen[n % len(chosen)]
            final[aid] = f"Буря {debounce:g} № {n}"
            w.agency.update_deal(aid, {"TITLE": final[aid]})
        delivered = w.agency.outbox.wait_idle(timeout=120)
        for aid, title in final.items():
            _wait(partial(_arrived, w, links[aid], title), timeout=60)
        used = _delta(before, w.requests())
    return {
        "events": events,
        "distinct": len(chosen),
        "debounce": debounce,
        "fetches": used["agency"],
        "fetch_target": 1.2 * math.ceil(len(chosen) / bounds.B24_COMMANDS),
        "requests": used,
        "all_delivered": delivered,
        "wall": time.perf_counter() - began,
        "lost": sum(_partner_title(w, *links[a]) != t for a, t in final.items()),
    }
