"""The daemon's :class:`WebContext`: its store, active mapping, CRMs' stage names, health."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bridge.crm import Crm
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.ratelimit import Pacer
from sync.web.context import MappingInfo, RateBudget, StageNames, WebContext, signing_key

if TYPE_CHECKING:
    from sync.runtime.daemon import Daemon

log = logging.getLogger(__name__)


class StageNameCache:
    """Stage id → name per side, read once per active mapping (one pipelines call per CRM)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._for: CompiledMapping | None = None
        self._names: dict[str, dict[str, str]] = {}

    def get(self, mapping: CompiledMapping | None, crms: Mapping[str, Crm]) -> StageNames:
        with self._lock:
            if mapping is None or mapping is self._for:
                return self._names
            names: dict[str, dict[str, str]] = {}
            for label, crm in crms.items():
                try:
                    names[label] = {s.id: s.name for p in crm.pipelines() for s in p.stages}
                except Exception as exc:  # a CRM down: ids stand in for names until it answers
                    log_event(
                        log,
                        "web.stage_names_failed",
                        logging.WARNING,
                        crm=label,
                        error=type(exc).__name__,
                    )
                    return names
            self._for, self._names = mapping, names
            return names


class LoadedAt:
    """When the web first saw each active mapping: the daemon loaded it just before."""

    def __init__(self, now: dt.datetime) -> None:
        self._seen: tuple[int, dt.datetime] | None = None
        self._start = now

    def of(self, mapping: CompiledMapping | None, now: dt.datetime) -> dt.datetime | None:
        if mapping is None:
            return None
        if self._seen is None:
            self._seen = (id(mapping), self._start)
        elif self._seen[0] != id(mapping):
            self._seen = (id(mapping), now)
        return self._seen[1]


def agency_budget(crms: Mapping[str, Crm]) -> RateBudget | None:
    """The agency adapter's pacer, read the way the daemon's metrics read it."""
    crm = crms.get("agency")
    http = getattr(crm, "http", None) or getattr(crm, "_http", None)
    pacer = getattr(http, "pacer", None)
    if not isinstance(pacer, Pacer):
        return None
    requests = getattr(crm, "requests", 0)
    return RateBudget(pacer.in_use(), requests if isinstance(requests, int) else 0, pacer.waited)


def web_context(daemon: Daemon) -> WebContext:
    assert daemon.store is not None
    settings = daemon.settings
    cache = StageNameCache()
    loaded = LoadedAt(daemon.clock())

    def mapping() -> CompiledMapping | None:
        return daemon.watcher.compiled if daemon.watcher is not None else None

    def info() -> MappingInfo:
        watcher = daemon.watcher
        problems: list[str] = []
        if watcher is not None:
            problems += [str(p) for p in watcher.rejected]
            report = watcher.report
            if report is not None:
                problems += [str(p) for p in (*report.problems, *report.warnings)]
        return MappingInfo(
            settings.mapping_path, loaded.of(mapping(), daemon.clock()), tuple(problems)
        )

    def failures() -> dict[str, str]:
        failing = daemon.health.failing()
        return {
            label: failing[crm.system]
            for label, crm in daemon.crms().items()
            if crm.system in failing
        }

    return WebContext(
        store=daemon.store,
        mapping=mapping,
        admin_token=settings.admin_token,
        key=signing_key(settings.secret_key, settings.admin_token),
        clock=daemon.clock,
        stage_names=lambda: cache.get(mapping(), daemon.crms()),
        mapping_info=info,
        live_failures=failures,
        agency_budget=lambda: agency_budget(daemon.crms()),
        agency_crm=lambda: daemon.crms().get("agency"),
        public_url=settings.public_url or None,
    )
