"""An in-memory ``Crm`` for engine tests: real semantics, counted calls, injectable faults.

Every call is counted per method in ``calls``; ``writes`` counts write calls.
``list_changed`` pages with a watermark taken when the listing starts, like the
real adapters; page size and batch size are set per instance so call counts
can be compared with what the real APIs allow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bridge.crm import CrmError, WriteResult, group_by_stamp
from bridge.model import (
    ChangePage,
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    FieldDef,
    Note,
    Pipeline,
)

WRITE_METHODS = frozenset({"create_deals", "update_deals", "add_notes"})


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


class FakeCrm:
    def __init__(
        self,
        system: str,
        pipelines: Sequence[Pipeline],
        clock: FakeClock,
        *,
        page_size: int = 50,
        batch_size: int = 50,
        id_start: int = 1,
    ) -> None:
        self._system = system
        self._pipelines = tuple(pipelines)
        self.clock = clock
        self.page_size = page_size
        self.batch_size = batch_size
        self.deals: dict[str, Deal] = {}
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, Company] = {}
        self.notes: dict[str, list[Note]] = {}
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(id_start)
        # method name -> callable raising or returning None; consulted before each call
        self.faults: dict[str, Callable[[], None]] = {}
        # called between pages of list_changed (to simulate edits while paging)
        self.between_pages: Callable[[int], None] | None = None
        self.lose_create_response = False

    # --- test controls -------------------------------------------------------------
    @property
    def writes(self) -> int:
        return sum(n for m, n in self.calls.items() if m in WRITE_METHODS)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _tick(self) -> dt.datetime:
        self.clock.advance(0.001)
        return self.clock()

    def seed(self, **kwargs: Any) -> Deal:
        now = self._tick()
        deal_id = str(next(self._ids))
        deal = Deal(id=deal_id, created_at=now, updated_at=now, **kwargs)
        self.deals[deal_id] = deal
        return deal

    def user_edit(self, deal_id: str, **changes: Any) -> Deal:
        deal = dataclasses.replace(self.deals[deal_id], updated_at=self._tick(), **changes)
        self.deals[deal_id] = deal
        return deal

    def user_delete(self, deal_id: str) -> None:
        del self.deals[deal_id]

    def _count(self, method: str, n: int = 1) -> None:
        self.calls[method] += n
        fault = self.faults.get(method)
        if fault is not None:
            fault()

    def _batches(self, n: int) -> int:
        return max(1, -(-n // self.batch_size))

    # --- Crm -------------------------------------------------------------------
    @property
    def system(self) -> str:
        return self._system

    def pipelines(self) -> Sequence[Pipeline]:
        self._count("pipelines")
        return self._pipelines

    def custom_fields(self) -> Sequence[FieldDef]:
        self._count("custom_fields")
        return ()

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        self._count("fetch_deals", self._batches(len(ids)))
        return {i: self.deals[i] for i in ids if i in self.deals}

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        self._count("find_by_stamp", self._batches(len(stamps)))
        wanted = set(stamps)
        return {d.stamp: d for d in self.deals.values() if d.stamp in wanted and d.stamp}

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        self._count("find_stamped", self._batches(len(stamps)))
        return group_by_stamp(self.deals.values(), stamps)

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        watermark = self.clock()
        ordered = sorted(
            (d for d in self.deals.values() if d.updated_at >= since), key=lambda d: int(d.id)
        )
        pages = [ordered[i : i + self.page_size] for i in range(0, len(ordered), self.page_size)]
        for number, page in enumerate(pages or [[]]):
            self._count("list_changed")
            if number and self.between_pages is not None:
                self.between_pages(number)
            yield ChangePage(tuple(page), watermark)

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        self._count("create_deals", self._batches(len(drafts)))
        results = [self._create(d) for d in drafts]
        if self.lose_create_response:
            from bridge.crm import OutcomeUnknown

            raise OutcomeUnknown("response lost", system=self.system)
        return results

    def _create(self, draft: DealDraft) -> WriteResult:
        now = self._tick()
        contact_ids: tuple[str, ...] = ()
        if draft.contact is not None:
            contact_id = f"c{next(self._ids)}"
            self.contacts[contact_id] = dataclasses.replace(draft.contact, id=contact_id)
            contact_ids = (contact_id,)
        company_id = None
        if draft.company is not None:
            company_id = f"co{next(self._ids)}"
            self.companies[company_id] = dataclasses.replace(draft.company, id=company_id)
        deal = Deal(
            id=str(next(self._ids)),
            title=draft.title,
            pipeline_id=draft.pipeline_id,
            stage_id=draft.stage_id,
            amount=draft.amount,
            created_at=now,
            updated_at=now,
            responsible_id=draft.responsible_id,
            contact_ids=contact_ids,
            company_id=company_id,
            stamp=draft.stamp,
            fields=draft.fields,
        )
        self.deals[deal.id] = deal
        return WriteResult(key=draft.key, deal_id=deal.id)

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        self._count("update_deals", self._batches(len(patches)))
        return [self._update(p) for p in patches]

    def _update(self, patch: DealPatch) -> WriteResult:
        from bridge.crm import NotFound

        deal = self.deals.get(patch.deal_id)
        if deal is None:
            return WriteResult(key=patch.key, error=NotFound("no deal", system=self.system))
        changes = {
            name: getattr(patch, name)
            for name in ("title", "pipeline_id", "stage_id", "amount", "responsible_id")
            if getattr(patch, name) is not None
        }
        fields = {**deal.fields, **patch.fields}
        self.deals[deal.id] = dataclasses.replace(
            deal, updated_at=self._tick(), fields=fields, **changes
        )
        return WriteResult(key=patch.key, deal_id=deal.id)

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        self._count("fetch_contacts", self._batches(len(ids)))
        return {i: self.contacts[i] for i in ids if i in self.contacts}

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        self._count("fetch_companies", self._batches(len(ids)))
        return {i: self.companies[i] for i in ids if i in self.companies}

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        self._count("add_notes", self._batches(len(notes)))
        results = []
        for note in notes:
            stored = dataclasses.replace(note, id=f"n{next(self._ids)}", created_at=self._tick())
            self.notes.setdefault(note.deal_id, []).append(stored)
            results.append(WriteResult(key=note.deal_id, deal_id=note.deal_id))
        return results

    def list_notes(self, deal_id: str) -> list[Note]:
        self._count("list_notes")
        return list(self.notes.get(deal_id, []))

    def close(self) -> None:
        pass


def fail_with(error: CrmError) -> Callable[[], None]:
    def _raise() -> None:
        raise error

    return _raise
