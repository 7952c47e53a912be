"""Reload mapping.yaml without a restart; an invalid new version never replaces a good one.

The daemon calls :meth:`MappingWatcher.poll` on a schedule (and
:meth:`MappingWatcher.reresolve` to catch drift in the CRMs). A changed file is
validated and resolved whole; if it has errors it is rejected, the errors are
logged, and the last good compiled mapping stays active.

A file that resolves only in part (a partner's CRM unreachable, a stage or
field that does not exist) is *degraded*, not rejected: it becomes active with
the affected partners set aside and the affected deals parked, and
:attr:`MappingWatcher.report` keeps its problems for readiness to name.
A file that cannot be read (deleted, unreadable) is logged once per distinct
error, not at every poll; :attr:`MappingWatcher.unreadable` says why meanwhile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from bridge.crm import Crm
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.env import Environment
from bridge.mapping.errors import MappingInvalid, MappingProblem
from bridge.mapping.resolve import ResolveReport, resolve
from bridge.mapping.resolve_cache import CatalogCache
from bridge.mapping.spec import MappingSpec
from bridge.mapping.validate import load_mapping

log = logging.getLogger(__name__)

CrmsFor = Callable[[MappingSpec], Mapping[str, Crm]]
EnvFor = Callable[[Path], Environment]


class MappingWatcher:
    """Holds the active compiled mapping; swaps it only for a valid, resolved new version."""

    def __init__(
        self,
        path: str | Path,
        crms_for: CrmsFor,
        *,
        env_for: EnvFor = Environment.for_mapping,
        cache: CatalogCache | None = None,
        max_age: dt.timedelta | None = None,
        drift_age: dt.timedelta | None = None,
    ) -> None:
        self.path = Path(path)
        self._cache = cache
        self._max_age = max_age
        self._drift_age = drift_age
        self._crms_for = crms_for
        self._env_for = env_for
        self._lock = threading.Lock()
        self._digest: str | None = None
        self._spec: MappingSpec | None = None
        self._report: ResolveReport | None = None
        self.rejected: tuple[MappingProblem, ...] = ()  # why the newest file was refused
        self.unreadable: str | None = None  # why the file cannot be read now, None if it can

    @property
    def compiled(self) -> CompiledMapping | None:
        """The active mapping (the last good one), or None before any file was accepted."""
        report = self._report
        return report.compiled if report is not None else None

    @property
    def report(self) -> ResolveReport | None:
        return self._report

    def poll(self) -> bool:
        """Load the file if its content changed; True if a new mapping became active."""
        with self._lock:
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                self._unreadable(exc.strerror or type(exc).__name__)
                return False
            if self.unreadable is not None:
                self.unreadable = None
                log_event(log, "mapping.readable", path=str(self.path))
            digest = hashlib.sha256(data).hexdigest()
            if digest == self._digest:
                return False
            self._digest = digest
            return self._load()

    def _unreadable(self, error: str) -> None:
        """Log a read failure once per distinct error (the daemon polls twice a second)."""
        if error == self.unreadable:
            return
        self.unreadable = error
        kept = "the last good mapping stays active" if self._report else "no mapping is active"
        log_event(
            log, "mapping.unreadable", logging.ERROR, path=str(self.path), error=error, kept=kept
        )

    def reresolve(self) -> ResolveReport | None:
        """Resolve the active spec again (the CRMs may have drifted); keep it if it compiles."""
        with self._lock:
            if self._spec is None:
                return None
            spec = self._spec
            crms = self._crms_for(spec)
            report = resolve(spec, crms, cache=self._cache, max_age=self._drift_age)
            self._log_problems("mapping.drift", report)
            if report.compiled is not None:
                self._report = report
            return report

    def _load(self) -> bool:
        try:
            spec = load_mapping(self.path, self._env_for(self.path))
        except MappingInvalid as exc:
            self._reject(exc.problems)
            return False
        report = resolve(spec, self._crms_for(spec), cache=self._cache, max_age=self._max_age)
        if report.compiled is None:
            self._reject(report.problems)
            return False
        self._log_problems("mapping.unresolved", report)
        self._spec, self._report, self.rejected = spec, report, ()
        log_event(log, "mapping.loaded", path=str(self.path), partners=len(spec.partners))
        return True

    def _reject(self, problems: tuple[MappingProblem, ...]) -> None:
        self.rejected = problems
        kept = "the last good mapping stays active" if self._report else "no mapping is active"
        log_event(
            log,
            "mapping.rejected",
            logging.ERROR,
            path=str(self.path),
            kept=kept,
            problems=[str(p) for p in problems],
        )

    def _log_problems(self, event: str, report: ResolveReport) -> None:
        if report.problems:
            problems = [str(p) for p in report.problems]
            log_event(log, event, logging.WARNING, path=str(self.path), problems=problems)
