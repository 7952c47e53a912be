"""Shared steps of the sandbox scenarios: CRMs to check with, workload changes, waiting."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import open_crm
from bridge.mapping.watch import MappingWatcher
from bridge.model import Semantics
from bridge.sandbox.world import SandboxWorld
from sync.runtime.crm_pool import CrmPool

T = TypeVar("T")


class Clock:
    """The wall clock, run ahead on demand (so hints re-queued for a failed partner come due)."""

    def __init__(self) -> None:
        self.ahead = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.ahead


@dataclass
class Checked:
    """The world as the invariant checker reads it: adapters of our own, and the mapping."""

    agency: Crm
    partners: dict[str, Crm]
    mapping: CompiledMapping


@contextmanager
def checker_view(world: SandboxWorld) -> Iterator[Checked]:
    pool = CrmPool(open_crm)
    watcher = MappingWatcher(world.mapping_path, pool.for_spec)
    assert watcher.poll(), watcher.rejected
    mapping = watcher.compiled
    assert mapping is not None
    crms = pool.current()
    try:
        yield Checked(crms["agency"], {c: crms[c] for c in mapping.partners if c in crms}, mapping)
    finally:
        pool.close()


class Workload:
    """Random changes a person would make on either side, counted."""

    def __init__(self, world: SandboxWorld, mapping: CompiledMapping, seed: int) -> None:
        self.world = world
        self.mapping = mapping
        self.rng = random.Random(seed)
        self.agency_ids: list[str] = []
        self.changes = 0
        self.editable_ids: set[str] | None = None
        self._n = 0
        self._first_stage = _first_stage(world, mapping)

    def new_deal(self, partner: str | None = None) -> str:
        self._n += 1
        code = partner or self.rng.choice(sorted(self.mapping.partners))
        fields: dict[str, object] = {
            "TITLE": f"Надёжность №{self._n}",
            "CATEGORY_ID": int(self.mapping.agency.pipeline_id),
            "STAGE_ID": self._first_stage,
            "OPPORTUNITY": str(Decimal(100_000 + self._n)),
            "CURRENCY_ID": "RUB",
            self.mapping.agency.routing_field_id: [self.mapping.partners[code].routing_value],
        }
        deal_id = self.world.agency.add_deal(fields)
        self.agency_ids.append(deal_id)
        self.changes += 1
        return deal_id

    def editable(self) -> list[str]:
        """Deals whose link is committed. Editing one whose create may be in flight is
        test_crash_window_edits.py's known bug; ``editable_ids`` narrows to these."""
        if self.editable_ids is None:
            return self.agency_ids
        return [i for i in self.agency_ids if i in self.editable_ids]

    def edit_agency(self) -> None:
        if not self.editable():
            return
        deal_id = self.rng.choice(self.editable())
        amount = 200_000 + self.rng.randrange(1000)
        self.world.agency.update_deal(deal_id, {"OPPORTUNITY": str(amount)})
        self.changes += 1

    def edit_partner(self, crms: dict[str, Crm]) -> None:
        """A partner manager changes the amount of a mirrored deal."""
        if not self.editable():
            return
        stamp = self.rng.choice(self.editable())
        for code, crm in sorted(crms.items()):
            found = crm.find_by_stamp([stamp]).get(stamp)
            if found is None:
                continue
            amount = 300_000 + self.rng.randrange(1000)
            if code == "alfa":
                self.world.alfa.update_lead(int(found.id), {"price": amount})
            else:
                self.world.beta.update_deal(found.id, {"OPPORTUNITY": str(amount)})
            self.changes += 1
            return

    def win(self, agency: Crm) -> None:
        """The agency closes a mirrored deal as won: the ledger accrues commission."""
        if not self.editable():
            return
        wanted = self.mapping.agency.pipeline_id
        pipeline = next(p for p in agency.pipelines() if p.id == wanted)
        won = next(st.id for st in pipeline.stages if st.semantics is Semantics.WON)
        money = f"{self.rng.randrange(5_000, 50_000)}.00|RUB"
        fields = {"STAGE_ID": won, "UF_CRM_AGENCY_FEE": money, "UF_CRM_PAID": money}
        self.world.agency.update_deal(self.rng.choice(self.editable()), fields)
        self.changes += 1

    def random_step(self, crms: dict[str, Crm], agency: Crm | None = None) -> None:
        roll = self.rng.random()
        if roll < 0.4 or not self.editable():
            self.new_deal()
        elif roll < 0.6:
            self.edit_agency()
        elif roll < 0.75 and agency is not None:
            self.win(agency)
        else:
            self.edit_partner(crms)


def _first_stage(world: SandboxWorld, mapping: CompiledMapping) -> str:
    """The agency stage a routed deal starts in: the first one the partners map."""
    partner = next(iter(mapping.partners.values()))
    return next(iter(partner.stages.to_partner))


def committed_links(db_path: str) -> set[str]:
    """Agency deal ids whose link is active with its partner deal, read straight from SQLite."""
    import sqlite3

    if not Path(db_path).exists():
        return set()
    with closing(sqlite3.connect(db_path)) as db:
        query = "SELECT agency_deal_id FROM link WHERE status = 'active'"
        rows = db.execute(query + " AND partner_deal_id IS NOT NULL").fetchall()
    return {r[0] for r in rows}
