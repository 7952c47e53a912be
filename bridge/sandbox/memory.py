"""The one in-memory :class:`bridge.crm.Crm`: a CRM account in a dict, for tests and benchmarks.

It keeps the protocol's promises and is run through the contract suite
(``tests/contract``) beside the HTTP sandboxes:

* deals carry ``updated_at`` from a :class:`ManualClock` (shared between
  accounts if the caller wants one time line); every write moves it on by
  ``step`` seconds, so each change has its own moment;
* ``list_changed`` returns every deal modified at or after ``since``, ordered by
  modification time, ``page_size`` per page, each page carrying the clock's time
  when the listing began (a change made while paging is in the next listing);
* bulk writes answer per item; unknown stages and deals are item errors;
* stamps are searchable; notes are kept oldest first; users are listed.

Tests steer it from outside: ``calls`` counts the requests a real adapter would
make (one per ``batch_size`` items, one per page), ``faults`` makes the next N
calls of an operation raise a given :class:`~bridge.crm.CrmError` or lose the
answer of a write that was applied, ``between_pages`` runs between the pages of
a listing, and ``seed`` / ``user_edit`` / ``user_delete`` / ``rename_stage`` /
``delete_stage`` act as a person in the CRM's UI would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from bridge.crm import (
    AuthError,
    CrmError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    WriteResult,
    group_by_stamp,
)
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
    User,
)
from bridge.secrets import Secret

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
WRITE_OPERATIONS = frozenset({"create_deals", "update_deals", "add_notes"})
_PATCHED = ("title", "pipeline_id", "stage_id", "amount", "responsible_id")


class ManualClock:
    """Time that moves only when told to; callable, so it can be an engine's clock."""

    def __init__(self, start: dt.datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be an aware UTC time")
        self.at = start.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> dt.datetime:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.at += dt.timedelta(seconds=seconds)
        return self.at


@dataclasses.dataclass
class _Armed:
    operation: str | None  # None: every operation
    remaining: int | None  # None: until cleared
    error: CrmError | None = None  # raised before the call runs
    lose_response: bool = False  # the call runs, then its answer is lost
    action: Callable[[], None] | None = None  # run before the call (a spy, an edit)


class Faults:
    """Armed misbehaviours, consulted once per call of an operation (first match wins)."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def fail(self, operation: str | None, error: CrmError, *, times: int | None = 1) -> None:
        """The next ``times`` calls of ``operation`` (None: any) raise ``error``.

        ``times=None`` keeps failing until :meth:`clear`.
        """
        self._arm(_Armed(operation, times, error=error))

    def lose_response(self, operation: str, *, times: int | None = 1) -> None:
        """The next ``times`` calls of a write run, then raise ``OutcomeUnknown``."""
        if operation not in WRITE_OPERATIONS:
            raise ValueError(f"only a write can lose its response, not {operation!r}")
        self._arm(_Armed(operation, times, lose_response=True))

    def before(
        self, operation: str, action: Callable[[], None], *, times: int | None = None
    ) -> None:
        """Run ``action`` before each of the next ``times`` calls of ``operation``."""
        self._arm(_Armed(operation, times, action=action))

    def clear(self, operation: str | None = None) -> None:
        """Disarm everything (or everything armed for ``operation``)."""
        self._armed = [a for a in self._armed if operation is not None and a.operation != operation]

    @property
    def pending(self) -> int:
        return len(self._armed)

    def _arm(self, armed: _Armed) -> None:
        if armed.remaining is not None and armed.remaining < 1:
            raise ValueError("a fault must fire at least once")
        self._armed.append(armed)

    def take(self, operation: str) -> _Armed | None:
        for armed in self._armed:
            if armed.operation is not None and armed.operation != operation:
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed.remove(armed)
            return armed
        return None


class MemoryCrm:
    """A CRM account in memory. Ids are numeric strings from one counter (``id_start``…).

    ``stamp_in_field`` makes it behave like amoCRM, whose stamp lives in a custom
    field the bridge creates (``ensure_stamp_field`` / ``find_stamp_field``);
    otherwise, like Bitrix24, the stamp is a built-in field. ``token`` and
    ``accepted_tokens`` let a test open the same kind of account with credentials
    it rejects (``AuthError`` on every call).
    """

    ensure_stamp_field: Callable[[], str]
    find_stamp_field: Callable[[], str | None]

    def __init__(
        self,
        system: str = "memory",
        pipelines: Iterable[Pipeline] = (),
        fields: Iterable[FieldDef] = (),
        *,
        clock: ManualClock | None = None,
        users: Iterable[User] = (),
        page_size: int = 50,
        batch_size: int = 50,
        id_start: int = 1,
        step: float = 0.001,
        stamp_in_field: bool = False,
        token: Secret | None = None,
        accepted_tokens: Iterable[str] | None = None,
    ) -> None:
        self._system = system
        self.pipeline_list = list(pipelines)
        self.field_list = list(fields)
        self.user_list = list(users)
        self.clock = clock if clock is not None else ManualClock()
        self.page_size = page_size
        self.batch_size = batch_size
        self.step = step
        self.deals: dict[str, Deal] = {}
        self.contacts: dict[str, Contact] = {}
        self.companies: dict[str, Company] = {}
        self.notes: dict[str, list[Note]] = {}
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self.between_pages: Callable[[int], object] | None = None
        self.closed = False
        self.stamp_field_id: str | None = None
        self._ids = itertools.count(id_start)
        self._token = token
        self._accepted = None if accepted_tokens is None else frozenset(accepted_tokens)
        if stamp_in_field:  # the amoCRM capability exists only on accounts that have it
            self.ensure_stamp_field = self._ensure_stamp_field
            self.find_stamp_field = self._find_stamp_field

    def __repr__(self) -> str:
        return f"MemoryCrm({self._system!r}, deals={len(self.deals)})"

    # -- test controls -------------------------------------------------------------
    @property
    def writes(self) -> int:
        """Write requests made so far."""
        return sum(n for op, n in self.calls.items() if op in WRITE_OPERATIONS)

    @property
    def total_calls(self) -> int:
        """Requests of every kind made so far."""
        return sum(self.calls.values())

    def tick(self, seconds: float | None = None) -> dt.datetime:
        """Move the clock on (by ``step`` unless told) and return the new time."""
        return self.clock.advance(self.step if seconds is None else seconds)

    def new_id(self) -> str:
        return str(next(self._ids))

    def seed(self, **values: Any) -> Deal:
        """Store a deal as if a person created it (no call is counted)."""
        now = self.tick()
        values.setdefault("created_at", now)
        deal = Deal(id=self.new_id(), updated_at=now, **values)
        self.deals[deal.id] = deal
        return deal

    def user_edit(self, deal_id: str, **changes: Any) -> Deal:
        deal = dataclasses.replace(self.deals[deal_id], updated_at=self.tick(), **changes)
        self.deals[deal_id] = deal
        return deal

    def user_delete(self, deal_id: str) -> None:
        del self.deals[deal_id]

    def rename_stage(self, stage_name: str, new_name: str) -> None:
        self.pipeline_list = [_renamed(p, stage_name, new_name) for p in self.pipeline_list]

    def delete_stage(self, stage_name: str) -> None:
        self.pipeline_list = [
            dataclasses.replace(p, stages=tuple(s for s in p.stages if s.name != stage_name))
            for p in self.pipeline_list
        ]

    # -- the Crm protocol ----------------------------------------------------------
    @property
    def system(self) -> str:
        return self._system

    def pipelines(self) -> Sequence[Pipeline]:
        self._enter("pipelines")
        return tuple(self.pipeline_list)

    def custom_fields(self) -> Sequence[FieldDef]:
        self._enter("custom_fields")
        return tuple(self.field_list)

    def users(self) -> Sequence[User]:
        self._enter("users")
        return tuple(self.user_list)

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        self._enter("fetch_deals", len(ids))
        return {i: self.deals[i] for i in ids if i in self.deals}

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        self._enter("find_by_stamp", len(stamps))
        wanted, found = set(stamps), {}
        for deal in sorted(self.deals.values(), key=_by_id):
            if deal.stamp in wanted and deal.stamp not in found:
                found[deal.stamp] = deal
        return found

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        self._enter("find_stamped", len(stamps))
        return group_by_stamp(self.deals.values(), stamps)

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        watermark = self.clock()
        changed = sorted(
            (d for d in self.deals.values() if d.updated_at >= since),
            key=lambda d: (d.updated_at, *_by_id(d)),
        )
        pages = [changed[i : i + self.page_size] for i in range(0, len(changed), self.page_size)]
        for number, page in enumerate(pages or [[]]):
            self._enter("list_changed")
            if number and self.between_pages is not None:
                self.between_pages(number)
            yield ChangePage(tuple(page), watermark)

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        lost = self._enter("create_deals", len(drafts))
        return self._answer(lost, [self._create(d) for d in drafts])

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        lost = self._enter("update_deals", len(patches))
        return self._answer(lost, [self._update(p) for p in patches])

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        self._enter("fetch_contacts", len(ids))
        return {i: self.contacts[i] for i in ids if i in self.contacts}

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        self._enter("fetch_companies", len(ids))
        return {i: self.companies[i] for i in ids if i in self.companies}

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        lost = self._enter("add_notes", len(notes))
        return self._answer(lost, [self._add_note(n) for n in notes])

    def list_notes(self, deal_id: str) -> list[Note]:
        self._enter("list_notes")
        return list(self.notes.get(deal_id, []))

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        wanted = list(dict.fromkeys(deal_ids))
        if wanted:
            self._enter("list_notes_many", len(wanted))
        return {i: list(self.notes.get(i, [])) for i in wanted}

    def close(self) -> None:
        self.closed = True

    # -- internals -----------------------------------------------------------------
    def _enter(self, operation: str, items: int | None = None) -> bool:
        """Count the call (one per batch), check credentials, apply an armed fault.

        Returns True when the call must run but lose its answer.
        """
        self.calls[operation] += 1 if items is None else max(1, -(-items // self.batch_size))
        if self._accepted is not None and (
            self._token is None or self._token.reveal() not in self._accepted
        ):
            raise AuthError("the account rejected the credentials", system=self._system)
        armed = self.faults.take(operation)
        if armed is None:
            return False
        if armed.action is not None:
            armed.action()
        if armed.error is not None:
            raise armed.error
        return armed.lose_response

    def _answer(self, lost: bool, results: list[WriteResult]) -> list[WriteResult]:
        if lost:
            raise OutcomeUnknown("the answer to a write was lost", system=self._system)
        return results

    def _create(self, draft: DealDraft) -> WriteResult:
        if not self._has_stage(draft.pipeline_id, draft.stage_id):
            return WriteResult(draft.key, error=self._no_stage(draft.stage_id))
        now = self.tick()
        contact_ids: tuple[str, ...] = ()
        if draft.contact is not None:
            contact_id = draft.contact.id or self.new_id()
            self.contacts[contact_id] = dataclasses.replace(draft.contact, id=contact_id)
            contact_ids = (contact_id,)
        company_id = None
        if draft.company is not None:
            company_id = draft.company.id or self.new_id()
            self.companies[company_id] = dataclasses.replace(draft.company, id=company_id)
        deal = Deal(
            id=self.new_id(),
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
            fields={k: v for k, v in draft.fields.items() if v is not None},
        )
        self.deals[deal.id] = deal
        return WriteResult(draft.key, deal_id=deal.id)

    def _update(self, patch: DealPatch) -> WriteResult:
        deal = self.deals.get(patch.deal_id)
        if deal is None:
            error = NotFound(f"no deal {patch.deal_id}", system=self._system)
            return WriteResult(patch.key, error=error)
        changes = {n: getattr(patch, n) for n in _PATCHED if getattr(patch, n) is not None}
        fields = {k: v for k, v in {**deal.fields, **patch.fields}.items() if v is not None}
        updated = dataclasses.replace(deal, **changes, fields=fields)
        if patch.stamp is not None:
            updated = dataclasses.replace(updated, stamp=patch.stamp)
        if not self._has_stage(updated.pipeline_id, updated.stage_id):
            return WriteResult(patch.key, error=self._no_stage(updated.stage_id))
        self.deals[deal.id] = dataclasses.replace(updated, updated_at=self.tick())
        return WriteResult(patch.key, deal_id=deal.id)

    def _add_note(self, note: Note) -> WriteResult:
        if note.deal_id not in self.deals:
            error = NotFound(f"no deal {note.deal_id}", system=self._system)
            return WriteResult(note.deal_id, error=error)
        stored = dataclasses.replace(note, id=self.new_id(), created_at=self.tick())
        self.notes.setdefault(note.deal_id, []).append(stored)
        return WriteResult(note.deal_id, deal_id=note.deal_id)

    def _has_stage(self, pipeline_id: str, stage_id: str) -> bool:
        pipeline = next((p for p in self.pipeline_list if p.id == pipeline_id), None)
        return pipeline is not None and pipeline.stage_by_id(stage_id) is not None

    def _no_stage(self, stage_id: str) -> PermanentError:
        return PermanentError(f"no stage {stage_id}", system=self._system)

    def _ensure_stamp_field(self) -> str:
        self._enter("ensure_stamp_field")
        if self.stamp_field_id is None:
            self.stamp_field_id = self.new_id()
        return self.stamp_field_id

    def _find_stamp_field(self) -> str | None:
        self._enter("find_stamp_field")
        return self.stamp_field_id


def _by_id(deal: Deal) -> tuple[int, str]:
    """Numeric ids in number order; anything a test stored by hand after them."""
    return (int(deal.id), "") if deal.id.isdigit() else (1 << 62, deal.id)


def _renamed(pipeline: Pipeline, old: str, new: str) -> Pipeline:
    stages = tuple(
        dataclasses.replace(s, name=new) if s.name == old else s for s in pipeline.stages
    )
    return dataclasses.replace(pipeline, stages=stages)
