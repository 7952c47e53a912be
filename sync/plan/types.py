"""The planner's vocabulary: link state in, operations and the next link state out.

Everything here is a frozen value. :class:`~bridge.model.LinkState` and
:class:`~bridge.model.LinkStatus` are defined in :mod:`bridge.model` (the store loads
and saves them) as the planner's input and output; the engine executes
the operations of a :class:`LinkPlan` and, once they all succeeded, commits ``next_state``.

``synced`` keeps, per mapped field, the *pair* of normalised values the two sides
held when they last agreed: ``synced[name] == (agency_value, partner_value)``.
Keeping both halves (instead of one value in agency terms) makes change detection
exact even when a value table maps several agency options to one partner option.
Special keys name the built-in fields: :data:`STAGE_KEY`, :data:`TITLE_KEY`,
:data:`AMOUNT_KEY`; :data:`AGENCY_WRITES_KEY` (not a pair) lists the slots whose
agency value this link wrote, for fan-out siblings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypeAlias

from bridge.fx.rates import RateBook
from bridge.mapping.compiled import Side
from bridge.model import (
    CanonicalValue,
    Company,
    Contact,
    DealDraft,
    DealPatch,
    LinkKey,
    LinkState,
    Note,
    Pipeline,
)

STAGE_KEY = "@stage"
TITLE_KEY = "@title"
AMOUNT_KEY = "@amount"


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
    # Re-routed: the partners the deal went to instead (the ledger takes this link's
    # money back), and who changed the routing as the agency CRM says ("agency user 7").
    rerouted_to: tuple[str, ...] = ()
    changed_by: str | None = None


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
    action: str | None = None  # None: a conflict (a winner) or an agreement
    detail: str | None = None


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
    # The admin's exchange rates (bridge rates set), for money a side keeps in another
    # currency (sync.plan.exchange); empty: such money parks naming the missing rate.
    rates: RateBook = field(default_factory=RateBook)


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
