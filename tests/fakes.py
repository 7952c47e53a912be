"""An in-memory :class:`bridge.crm.Crm` for tests that need a CRM but not HTTP.

Faithful to the protocol's promises: deals carry ``updated_at`` from a settable
clock, ``list_changed`` returns every deal modified at or after ``since`` with
the clock's time at the start of the listing as watermark, bulk writes answer
per item, stamps are searchable, notes are kept oldest first. Pipelines and
custom fields are plain model objects, so tests can rename or delete them to
simulate drift.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from bridge.crm import NotFound, PermanentError, WriteResult, group_by_stamp
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
    Stage,
)

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class FakeCrm:
    """A CRM account in memory. ``page_size`` splits ``list_changed`` into pages."""

    name: str = "fake"
    pipeline_list: list[Pipeline] = field(default_factory=list)
    field_list: list[FieldDef] = field(default_factory=list)
    now: dt.datetime = START
    page_size: int = 50
    deals: dict[str, Deal] = field(default_factory=dict)
    companies: dict[str, Company] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    notes: dict[str, list[Note]] = field(default_factory=dict)
    stamp_field_id: str | None = None
    calls: list[str] = field(default_factory=list)
    closed: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- test controls ---------------------------------------------------------
    def tick(self, seconds: float = 1) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def rename_stage(self, stage_name: str, new_name: str) -> None:
        self.pipeline_list = [_rename(p, stage_name, new_name) for p in self.pipeline_list]

    def delete_stage(self, stage_name: str) -> None:
        self.pipeline_list = [
            replace(p, stages=tuple(s for s in p.stages if s.name != stage_name))
            for p in self.pipeline_list
        ]

    def user_edit(self, deal_id: str, **changes: object) -> Deal:
        deal = replace(self.deals[deal_id], updated_at=self.tick(), **changes)  # type: ignore[arg-type]
        self.deals[deal_id] = deal
        return deal

    # -- the Crm protocol ------------------------------------------------------
    @property
    def system(self) -> str:
        return self.name

    def pipelines(self) -> Sequence[Pipeline]:
        self.calls.append("pipelines")
        return tuple(self.pipeline_list)

    def custom_fields(self) -> Sequence[FieldDef]:
        self.calls.append("custom_fields")
        return tuple(self.field_list)

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        return {i: self.deals[i] for i in ids if i in self.deals}

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        wanted = set(stamps)
        found: dict[str, Deal] = {}
        for deal in sorted(self.deals.values(), key=lambda d: int(d.id)):
            if deal.stamp in wanted and deal.stamp not in found:
                found[deal.stamp] = deal
        return found

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        self.calls.append("find_stamped")
        return group_by_stamp(self.deals.values(), stamps)

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        watermark = self.now
        changed = sorted(
            (d for d in self.deals.values() if d.updated_at >= since),
            key=lambda d: (d.updated_at, int(d.id)),
        )
        for start in range(0, max(len(changed), 1), self.page_size):
            yield ChangePage(tuple(changed[start : start + self.page_size]), watermark)

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        return [self._create(d) for d in drafts]

    def _create(self, draft: DealDraft) -> WriteResult:
        if not self._has_stage(draft.pipeline_id, draft.stage_id):
            error = PermanentError(f"no stage {draft.stage_id}", system=self.name)
            return WriteResult(draft.key, error=error)
        contact_ids: tuple[str, ...] = ()
        if draft.contact is not None:
            contact_id = draft.contact.id or str(next(self._ids))
            self.contacts[contact_id] = replace(draft.contact, id=contact_id)
            contact_ids = (contact_id,)
        company_id = None
        if draft.company is not None:
            company_id = draft.company.id or str(next(self._ids))
            self.companies[company_id] = replace(draft.company, id=company_id)
        deal_id = str(next(self._ids))
        now = self.tick()
        self.deals[deal_id] = Deal(
            id=deal_id,
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
            fields=dict(draft.fields),
        )
        return WriteResult(draft.key, deal_id=deal_id)

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        return [self._update(p) for p in patches]

    def _update(self, patch: DealPatch) -> WriteResult:
        deal = self.deals.get(patch.deal_id)
        if deal is None:
            return WriteResult(patch.key, error=NotFound(f"no deal {patch.deal_id}"))
        changes = {
            name: getattr(patch, name)
            for name in ("title", "pipeline_id", "stage_id", "amount", "responsible_id")
            if getattr(patch, name) is not None
        }
        fields = {**deal.fields, **patch.fields}
        fields = {k: v for k, v in fields.items() if v is not None}
        updated = replace(deal, **changes, fields=fields, updated_at=self.tick())
        if not self._has_stage(updated.pipeline_id, updated.stage_id):
            return WriteResult(patch.key, error=PermanentError(f"no stage {updated.stage_id}"))
        self.deals[patch.deal_id] = updated
        return WriteResult(patch.key, deal_id=patch.deal_id)

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        return {i: self.contacts[i] for i in ids if i in self.contacts}

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        return {i: self.companies[i] for i in ids if i in self.companies}

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        results = []
        for note in notes:
            if note.deal_id not in self.deals:
                results.append(WriteResult(note.deal_id, error=NotFound("no such deal")))
                continue
            stored = replace(note, id=str(next(self._ids)), created_at=self.tick())
            self.notes.setdefault(note.deal_id, []).append(stored)
            results.append(WriteResult(note.deal_id, deal_id=note.deal_id))
        return results

    def list_notes(self, deal_id: str) -> list[Note]:
        return list(self.notes.get(deal_id, []))

    def close(self) -> None:
        self.closed = True

    def _has_stage(self, pipeline_id: str, stage_id: str) -> bool:
        pipeline = next((p for p in self.pipeline_list if p.id == pipeline_id), None)
        return pipeline is not None and pipeline.stage_by_id(stage_id) is not None


class FakeAmoCrm(FakeCrm):
    """A fake whose stamp lives in a custom field the bridge creates (as on amoCRM)."""

    def ensure_stamp_field(self) -> str:
        if self.stamp_field_id is None:
            self.stamp_field_id = str(next(self._ids))
        return self.stamp_field_id

    def find_stamp_field(self) -> str | None:
        return self.stamp_field_id


def _rename(pipeline: Pipeline, old: str, new: str) -> Pipeline:
    stages = tuple(replace(s, name=new) if s.name == old else s for s in pipeline.stages)
    return replace(pipeline, stages=stages)


def stage(pipeline_id: str, stage_id: str, name: str, semantics: str = "open") -> Stage:
    from bridge.model import Semantics

    return Stage(stage_id, name, pipeline_id, Semantics(semantics))
