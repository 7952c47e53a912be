"""What ``/readyz`` answers: is the store reachable, is a mapping active, which CRMs fail.

Ready means the store answers and a valid mapping is active; a failing CRM is
reported (so a dashboard shows which account) but does not make the daemon
unready — the other partners keep syncing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text

from bridge.crm import Crm
from bridge.mapping.watch import MappingWatcher
from bridge.store.db import Store
from sync.runtime.app import Readiness
from sync.runtime.health import HealthTracker


def readiness(
    store: Store | None,
    watcher: MappingWatcher | None,
    health: HealthTracker,
    crms: Mapping[str, Crm],
) -> Readiness:
    checks: dict[str, str] = {}
    checks["store"] = store_check(store)
    if watcher is None or watcher.compiled is None:
        checks["mapping"] = "no valid mapping"
    elif watcher.rejected:
        checks["mapping"] = (
            f"newest file rejected ({len(watcher.rejected)} problems); last good active"
        )
    else:
        checks["mapping"] = "ok"
    failing = health.failing()
    for crm in crms.values():
        checks[crm.system] = failing.get(crm.system, "ok")
    ready = checks["store"] == "ok" and watcher is not None and watcher.compiled is not None
    return Readiness(ready, checks)


def store_check(store: Store | None) -> str:
    """``"ok"`` when a trivial query commits, else what is wrong (never raises)."""
    if store is None:
        return "not open"
    try:
        with store.transaction() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"
