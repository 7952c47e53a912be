"""The planner's vocabulary: link state in, operations and the next link state out.

Everything here is a frozen value. The store persists :class:`LinkState` (with
``synced`` through :mod:`sync.plan.values`); the engine executes the operations of a
:class:`LinkPlan` and, once they all succeeded, commits ``next_state``.

``synced`` keeps, per mapped field, the *pair* of normalised values the two sides
held when they last agreed: ``synced[name] == (agency_value, partner_value)``.
Keeping both halves (instead of one value in agency terms) makes change detection
exact even when a value table maps several agency options to one partner option.
Special keys name the built-in fields: :data:`STAGE_KEY`, :data:`TITLE_KEY`,
:data:`AMOUNT_KEY`; :data:`AGENCY_WRITES_KEY` (not a pair) lists the slots whose
agency value this link wrote, for fan-out siblings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from bridge.mapping.compiled import Side
from bridge.model import (
    Company,
    Contact,
    DealDraft,
    DealPatch,
    Money,
    Note,
    Pipeline,
    require_utc,
)

# A normalised value the planner compares and the store persists. Integers become
# Decimal, option lists become tuples; ``None`` is "empty".
CanonicalValue: TypeAlias = (
    str | bool | Decimal | Money | dt.date | dt.datetime | tuple["CanonicalValue", ...] | None
)

LinkKey: TypeAlias = tuple[str, str]  # (agency deal id, partner code)

STAGE_KEY = "@stage"
TITLE_KEY = "@title"
AMOUNT_KEY = "@amount"
# Slots whose agency value the bridge wrote from this link and nobody changed since
# (kept in ``synced`` so it persists with it). Fan-out siblings use it to tell this
# link's write to the shared agency deal from a person's edit.
AGENCY_WRITES_KEY = "@agency_writes"
HOLD_KEY = "@hold"  # a park only a person lifts (`bridge retry`): the reason, as text
HISTORY_KEY = "@history"  # a closed link kept as history (sync.plan.history): the reason


class LinkStatus(StrEnum):
    PENDING_CREATE = "pending_create"  # routed; the partner deal is being (or will be) created
    ACTIVE = "active"  # both deals exist and are mirrored
    PARKED = "parked"  # sync stopped for this link until the reason is fixed
    ORPHANED = "orphaned"  # the partner deal was deleted; the agency was told
    CLOSED = "closed"  # un-routed or left the partner pipeline; kept, no longer synced


@dataclass(frozen=True, slots=True)
class LinkState:
    """What the store knows about one agency deal ↔ partner deal link."""

    agency_deal_id: str
    partner_code: str
    partner_deal_id: str | None = None
    status: LinkStatus = LinkStatus.PENDING_CREATE
    synced: Mapping[str, CanonicalValue] = field(default_factory=dict)
    written_agency: str | None = None  # written_hash of the agency image we last left
    written_partner: str | None = None  # written_hash of the partner image we last left
    park_reason: str | None = None
    agency_updated_at: dt.datetime | None = None
    partner_updated_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "synced", MappingProxyType(dict(self.synced)))
        for name in ("agency_updated_at", "partner_updated_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_utc(value, f"LinkState.{name}"))

    @property
    def key(self) -> LinkKey:
        return (self.agency_deal_id, self.partner_code)

    def pair(self, name: str) -> tuple[CanonicalValue, CanonicalValue] | None:
        """The (agency, partner) values of ``name`` at the last sync, if any."""
        value = self.synced.get(name)
        if isinstance(value, tuple) and len(value) == 2:
            return (value[0], value[1])
        return None

    def agency_writes(self) -> dict[str, CanonicalValue]:
        """Agency values this link wrote and that still stand, by slot name."""
        names = self.synced.get(AGENCY_WRITES_KEY)
        if not isinstance(names, tuple):
            return {}
        return {str(n): pair[0] for n in names if (pair := self.pair(str(n))) is not None}

    @property
    def hold(self) -> str | None:
        """The reason of a park only a person lifts (``bridge retry``), if any."""
        value = self.synced.get(HOLD_KEY)
        return value if isinstance(value, str) else None

    def bound_to(self, partner_deal_id: str) -> LinkState:
        """This state with the id of the partner deal just created (or found by stamp)."""
        return dataclasses.replace(self, partner_deal_id=partner_deal_id)


def pending_link(agency_deal_id: str, partner_code: str) -> LinkState:
    """The intent the engine records before the create call (DESIGN §5, identity)."""
    return LinkState(agency_deal_id=agency_deal_id, partner_code=partner_code)


# --- operations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatePartnerDeal:
    """Create the partner deal (with contact and company). Writes."""

    link_key: LinkKey
    draft: DealDraft


@dataclass(frozen=True, slots=True)
class UpdateDeal:
    """Patch the deal on ``side``: fields, title, amount, stage. Writes."""

    link_key: LinkKey
    side: Side
    patch: DealPatch


@dataclass(frozen=True, slots=True)
class AddNote:
    """Add a note / timeline comment on ``side``; the text carries the bridge marker. Writes."""

    link_key: LinkKey
    side: Side
    note: Note


@dataclass(frozen=True, slots=True)
class Park:
    """Stop syncing this link until an admin fixes ``reason``. Nothing was written."""

    link_key: LinkKey
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to do this time, for ``reason`` (e.g. the partner is paused)."""

    link_key: LinkKey
    reason: str


@dataclass(frozen=True, slots=True)
class CloseLink:
    """The deal was un-routed or left the partner pipeline: stop syncing, keep the link.

    ``history``: the deal was already won or lost before the partner's first sync and is
    recorded, not handed over (DESIGN §5, the first connection).
    """

    link_key: LinkKey
    reason: str
    history: bool = False


@dataclass(frozen=True, slots=True)
class OrphanLink:
    """The partner deal is gone: mark the link orphaned (the agency note is a separate AddNote)."""

    link_key: LinkKey
    reason: str


Operation: TypeAlias = (
    CreatePartnerDeal | UpdateDeal | AddNote | Park | Skip | CloseLink | OrphanLink
)
WRITE_OPERATIONS = (CreatePartnerDeal, UpdateDeal, AddNote)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A value the bridge overruled (conflict or one-way overwrite), or a both-sides agreement.

    ``side_changed`` is the side whose value was overruled; ``old`` its value at the
    last sync; ``new`` the value written there; ``loser_value`` the overruled value.
    ``winner`` is None when both sides changed to the same value (nothing written).
    """

    link_key: LinkKey
    field: str
    side_changed: Side
    old: CanonicalValue
    new: CanonicalValue
    winner: Side | None
    loser_value: CanonicalValue


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """Operations for one link and the state to commit once they all succeeded.

    For a :class:`CreatePartnerDeal` plan ``next_state.partner_deal_id`` is still
    None: the engine fills it with ``next_state.bound_to(new_id)``.
    """

    link_key: LinkKey
    operations: tuple[Operation, ...]
    audit: tuple[AuditEntry, ...]
    next_state: LinkState
    previous: LinkState | None = None

    @property
    def writes(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if isinstance(op, WRITE_OPERATIONS))

    @property
    def state_changed(self) -> bool:
        return self.previous != self.next_state


# --- inputs besides the deals ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyExtras:
    """What the planner needs about the agency deal beyond :class:`~bridge.model.Deal`.

    ``contact``/``company`` travel with a new partner deal. ``pipeline`` (the agency
    partner pipeline) gives stage semantics for won/lost translation. ``notes`` are
    the agency deal's notes, for mirroring (empty: mirror nothing from the agency).
    """

    contact: Contact | None = None
    company: Company | None = None
    pipeline: Pipeline | None = None
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class PartnerExtras:
    """Per partner: its pipeline (stage semantics), the partner deal's notes, and the ids
    of other partner deals found carrying the same stamp (duplicates made before the
    bridge looked stamps up before every create), and the partner's start."""

    pipeline: Pipeline | None = None
    notes: tuple[Note, ...] = ()
    stamped_others: tuple[str, ...] = ()
    # When the bridge first synced this partner (the store keeps it): agency deals already
    # closed and created before it are history, not handed over (sync.plan.history).
    # None: no start known, nothing is held back.
    started_at: dt.datetime | None = None
