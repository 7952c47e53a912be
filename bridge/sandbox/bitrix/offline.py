"""Offline events: a per-portal queue read with ``event.offline.*``.

Records are coalesced per (event, object): a thousand edits of one deal leave a
single record with the last change's timestamp. ``clear=0`` reserves a batch
under a ``process_id`` until ``event.offline.clear``; writes made with an
``auth_connector`` do not enter the queue of bindings with the same connector.
``EVENT_DATA`` holds ``{"FIELDS": {"ID": …}}`` like the online payload (the
docs show no deal example). Only portal administrators may use the queue.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.bitrix.call import Call, Handler
from bridge.sandbox.bitrix.core import ApiError, Result, flag, iso, parse_int
from bridge.sandbox.bitrix.query import page


@dataclass(slots=True)
class OfflineRecord:
    id: int
    event: str
    object_id: str
    fields: dict[str, str]
    at: dt.datetime
    connector: str
    process_id: str = ""
    error: bool = False

    def render(self, *, listing: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "ID": str(self.id),
            "TIMESTAMP_X": iso(self.at),
            "EVENT_NAME": self.event,
            "EVENT_DATA": {"FIELDS": dict(self.fields)},
            "EVENT_ADDITIONAL": False,
            "MESSAGE_ID": str(self.id),
        }
        if listing:
            row |= {"PROCESS_ID": self.process_id, "ERROR": "1" if self.error else "0"}
        return row


@dataclass(slots=True)
class OfflineQueue:
    now: Callable[[], dt.datetime]
    # event name -> auth_connector of the offline binding ("" for none)
    bindings: dict[str, str] = field(default_factory=dict)
    records: list[OfflineRecord] = field(default_factory=list)
    on_new: Callable[[], None] = lambda: None
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: str, fields: dict[str, str], write_connector: str) -> None:
        connector = self.bindings.get(event)
        if connector is None or (connector and connector == write_connector):
            return
        object_id = fields.get("ID", "")
        with self._lock:
            for existing in self.records:
                same = (existing.event, existing.object_id, existing.connector)
                if same == (event, object_id, connector) and not existing.process_id:
                    existing.at, existing.fields = self.now(), dict(fields)
                    return
            self.records.append(
                OfflineRecord(self._next_id, event, object_id, dict(fields), self.now(), connector)
            )
            self._next_id += 1
        self.on_new()

    def take(
        self, connector: str, *, limit: int, clear: bool, error: bool
    ) -> tuple[str | None, list[OfflineRecord]]:
        with self._lock:
            ready = [
                r
                for r in self.records
                if not r.process_id and r.connector == connector and r.error == error
            ]
            ready.sort(key=lambda r: (r.at, r.id))
            chosen = ready[:limit]
            if clear:
                self.records = [r for r in self.records if r not in chosen]
                return None, chosen
            process_id = secrets.token_hex(16)
            for record in chosen:
                record.process_id = process_id
            return process_id, chosen

    def snapshot(self) -> list[OfflineRecord]:
        """Every record, newest first (what ``event.offline.list`` shows)."""
        with self._lock:
            return sorted(self.records, key=lambda r: r.id, reverse=True)

    def settle(self, process_id: str, message_ids: set[str] | None, *, failed: bool) -> None:
        """Confirm (drop) or mark as failed (release with ERROR=1) a reserved batch."""
        with self._lock:
            for record in list(self.records):
                if record.process_id != process_id:
                    continue
                if message_ids is not None and str(record.id) not in message_ids:
                    continue
                if failed:
                    record.process_id, record.error = "", True
                else:
                    self.records.remove(record)


def _admin_only(call: Call) -> OfflineQueue:
    if call.user_id not in call.portal.admins:
        raise ApiError(403, "ACCESS_DENIED", "Access denied!")
    return call.events.offline


def _ids(value: Any) -> set[str] | None:
    if value in (None, "", []):
        return None
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = [value]
    return {str(v) for v in value}


def offline_get(call: Call) -> Result:
    queue = _admin_only(call)
    limit = parse_int(call.get("limit")) or 50
    process_id, records = queue.take(
        str(call.get("auth_connector") or ""),
        limit=max(1, min(limit, 1000)),
        clear=flag(call.get("clear", 1)),
        error=flag(call.get("error", 0)),
    )
    events = [r.render(listing=False) for r in records]
    return Result({"process_id": process_id, "events": events})


def offline_clear(call: Call) -> Result:
    queue = _admin_only(call)
    process_id = str(call.get("process_id") or "")
    if not process_id:
        raise ApiError(400, "ERROR_REQUIRED_PARAMETERS_MISSING", "process_id is required")
    ids = _ids(call.get("message_id")) or _ids(call.get("id"))
    queue.settle(process_id, ids, failed=False)
    return Result(True)


def offline_error(call: Call) -> Result:
    queue = _admin_only(call)
    process_id = str(call.get("process_id") or "")
    queue.settle(process_id, _ids(call.get("message_id")), failed=True)
    return Result(True)


def offline_list(call: Call) -> Result:
    rendered = [r.render(listing=True) for r in _admin_only(call).snapshot()]
    chunk, total, following = page(rendered, call.get("start"))
    return Result(chunk, total, following)


METHODS: dict[str, Handler] = {
    "event.offline.get": offline_get,
    "event.offline.clear": offline_clear,
    "event.offline.error": offline_error,
    "event.offline.list": offline_list,
}
