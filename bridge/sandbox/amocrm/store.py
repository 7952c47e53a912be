"""The in-memory state of one emulated amoCRM account.

Records are plain dicts in an internal shape (custom values keyed by field id,
links as id lists); ``sandbox_render`` turns them into the API's JSON. Every
mutation of a lead is announced to the listeners (events feed, webhooks) as a
:class:`Change`, unless it is a bulk seed.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.emulator import SimClock

Record = dict[str, Any]

WON = 142
LOST = 143

# Distinct id ranges per entity so a test that mixes up ids fails loudly.
_ID_START = {
    "lead": 20_000_001,
    "contact": 30_000_001,
    "company": 40_000_001,
    "note": 50_000_001,
    "status": 60_000_001,
    "pipeline": 7_000_001,
    "user": 6_000_001,
    "field": 900_001,
    "enum": 800_001,
    "tag": 100_001,
    "webhook": 1_001,
    "event": 1,
}


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one entity, as the events feed and webhooks see it."""

    action: str  # add | update | delete | note
    entity: str  # lead
    before: Record | None
    after: Record
    actor: int  # user id; 0 = robot/system
    note: Record | None = None


Listener = Callable[[Change], None]


@dataclass
class Store:
    clock: SimClock
    account_id: int
    subdomain: str
    name: str = "Партнёрское агентство"
    base_url: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[int, Record] = field(default_factory=dict)
    pipelines: dict[int, Record] = field(default_factory=dict)
    fields: dict[str, dict[int, Record]] = field(
        default_factory=lambda: {"leads": {}, "contacts": {}, "companies": {}}
    )
    leads: dict[int, Record] = field(default_factory=dict)
    trash: dict[int, Record] = field(default_factory=dict)
    contacts: dict[int, Record] = field(default_factory=dict)
    companies: dict[int, Record] = field(default_factory=dict)
    notes: dict[int, Record] = field(default_factory=dict)
    tags: dict[str, Record] = field(default_factory=dict)
    events: list[Record] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    admin_id: int = 0
    duplicate_control: bool = False  # complex add merges duplicates when on
    _counters: dict[str, Iterator[int]] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        if kind not in self._counters:
            self._counters[kind] = itertools.count(_ID_START[kind])
        return next(self._counters[kind])

    def now(self) -> int:
        return int(self.clock.time())

    def emit(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    # --- pipelines and statuses -------------------------------------------------

    def pipeline(self, pipeline_id: int) -> Record | None:
        return self.pipelines.get(pipeline_id)

    def main_pipeline(self) -> Record:
        for pipe in self.pipelines.values():
            if pipe["is_main"]:
                return pipe
        return next(iter(self.pipelines.values()))

    def status(self, pipeline_id: int, status_id: int) -> Record | None:
        pipe = self.pipelines.get(pipeline_id)
        if pipe is None:
            return None
        return next((s for s in pipe["statuses"] if s["id"] == status_id), None)

    def pipeline_of_status(self, status_id: int) -> int | None:
        """The pipeline owning a stage id; None for 142/143 (shared) or unknown ids."""
        if status_id in (WON, LOST):
            return None
        for pipe in self.pipelines.values():
            if any(s["id"] == status_id for s in pipe["statuses"]):
                return int(pipe["id"])
        return None

    def first_status(self, pipeline_id: int) -> int:
        """New leads land in the first regular stage (after the unsorted one)."""
        statuses = self.pipelines[pipeline_id]["statuses"]
        regular = [s for s in statuses if s["type"] == 0 and s["id"] not in (WON, LOST)]
        return int((regular or statuses)[0]["id"])

    # --- tags --------------------------------------------------------------------

    def tag(self, name: str) -> Record:
        if name not in self.tags:
            self.tags[name] = {"id": self.next_id("tag"), "name": name, "color": None}
        return self.tags[name]

    def tag_by_id(self, tag_id: int) -> Record | None:
        return next((t for t in self.tags.values() if t["id"] == tag_id), None)

    # --- leads ---------------------------------------------------------------------

    def snapshot(self, lead_id: int) -> Record | None:
        lead = self.leads.get(lead_id)
        return copy.deepcopy(lead) if lead is not None else None

    def touch(self, record: Record, actor: int) -> None:
        record["updated_at"] = self.now()
        record["updated_by"] = actor
