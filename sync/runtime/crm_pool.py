"""The daemon's open CRM adapters, kept across mapping reloads.

A reload re-resolves the mapping against the CRMs; reopening every adapter
each time would throw away their rate-limit pacing and token state. The pool
reuses an adapter while its connection settings are unchanged, opens new ones,
and closes those the mapping no longer names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.mapping.spec import MappingSpec

Opener = Callable[[str, Connection], Crm]


class CrmPool:
    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Connection, Crm]] = {}

    def for_spec(self, spec: MappingSpec) -> dict[str, Crm]:
        """Adapters keyed ``agency`` and partner code, for every connection in ``spec``."""
        wanted = {"agency": spec.agency.connection} | {
            code: partner.connection for code, partner in spec.partners.items()
        }
        with self._lock:
            for label in set(self._open) - set(wanted):
                self._open.pop(label)[1].close()
            for label, connection in wanted.items():
                current = self._open.get(label)
                if current is not None and current[0] == connection:
                    continue
                if current is not None:
                    current[1].close()
                self._open[label] = (connection, self._opener(label, connection))
            return {label: crm for label, (_, crm) in self._open.items()}

    def current(self) -> dict[str, Crm]:
        with self._lock:
            return {label: crm for label, (_, crm) in self._open.items()}

    def close(self) -> None:
        with self._lock:
            for _, crm in self._open.values():
                crm.close()
            self._open.clear()
