"""What ``/readyz`` answers: the store, the mapping, and every mapping partner's state now.

The shape is fixed for monitoring tools::

    {"ready": bool, "checks": {"store": …, "mapping": …, "<kind>:<code>": …}}

A check's value is exactly ``"ok"`` when it is ok, otherwise a short text naming
the problem (docs/health.md lists every text). Ready means the store is the file
that was opened (or the PostgreSQL server answers) and a mapping is active; a
degraded mapping or a failing partner is reported but leaves the daemon ready —
the other partners keep syncing.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
from pathlib import Path

from sqlalchemy import text

from bridge.mapping.compiled import CompiledMapping, PartnerConfig
from bridge.mapping.errors import MappingProblem
from bridge.mapping.watch import MappingWatcher
from bridge.store import health
from bridge.store.db import Store, file_problem
from bridge.store.health import PartnerHealth
from sync.engine import AGENCY
from sync.runtime.app import Readiness
from sync.runtime.partner_state import OK, MappingView, partner_state

MAX_TEXT = 200
_MISSING = os.strerror(errno.ENOENT)


def readiness(
    store: Store | None,
    watcher: MappingWatcher | None,
    now: dt.datetime,
    *,
    store_lost: str | None = None,
) -> Readiness:
    """Every check, computed now. ``store_lost`` is the guard's verdict, once it tripped."""
    checks: dict[str, str] = {}
    checks["store"] = f"lost: {store_lost}" if store_lost else store_check(store)
    checks["mapping"] = mapping_check(watcher)
    compiled = watcher.compiled if watcher is not None else None
    if compiled is not None:
        rows = _health_rows(store) if checks["store"] == OK else {}
        checks.update(partner_checks(compiled, rows, now))
    ready = checks["store"] == OK and compiled is not None
    return Readiness(ready, checks)


def store_check(store: Store | None) -> str:
    """``"ok"`` when the SQLite file is still the one opened and writable and a trivial
    query commits (PostgreSQL: the server answers), else what is wrong (never raises)."""
    if store is None:
        return "not open"
    problem = file_problem(store.engine)
    if problem is not None:
        return problem
    try:
        with store.transaction() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return OK


def mapping_check(watcher: MappingWatcher | None) -> str:
    """``"ok"`` only for a clean active mapping whose file is the newest one read."""
    if watcher is None or watcher.compiled is None:
        return "no valid mapping"
    if watcher.unreadable is not None:
        what = "file missing" if watcher.unreadable == _MISSING else "file unreadable"
        detail = "" if what == "file missing" else f" ({watcher.unreadable})"
        return _short(f"{what}: {watcher.path}{detail}; last good active")
    if watcher.rejected:
        return _short(f"newest file rejected: {_problem(watcher.rejected[0])}; last good active")
    report = watcher.report
    if report is not None and report.problems:
        count = len(report.problems)
        return _short(f"degraded: {count} problem(s): {_problem(report.problems[0])}")
    return OK


def partner_checks(
    compiled: CompiledMapping, rows: dict[str, PartnerHealth], now: dt.datetime
) -> dict[str, str]:
    """``"<kind>:<code>"`` → state, for the agency and every partner of the mapping."""
    checks = {
        _key(compiled.agency.connection.kind.value, AGENCY): partner_state(
            rows.get(AGENCY), now, breaker=False
        )
    }
    for code, config in sorted(compiled.partners.items()):
        key = _key(config.connection.kind.value, code)
        checks[key] = partner_state(rows.get(code), now, mapping_view(config))
    return checks


def mapping_view(config: PartnerConfig) -> MappingView:
    """What the compiled mapping says about a partner (unavailable ones are paused too)."""
    if config.unavailable is not None:
        return MappingView(unavailable=config.unavailable.reason)
    return MappingView(paused=config.paused)


def _key(kind: str, code: str) -> str:
    return f"{kind}:{code}"


def _health_rows(store: Store | None) -> dict[str, PartnerHealth]:
    if store is None:
        return {}
    try:
        with store.transaction() as session:
            return health.partners(session)
    except Exception:
        return {}


def _problem(problem: MappingProblem) -> str:
    """A mapping problem with the file's name only (the full path is in the log)."""
    where = Path(problem.file).name + (f":{problem.line}:{problem.col}" if problem.line else "")
    return f"{where} {problem.path}: {problem.message}"


def _short(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
