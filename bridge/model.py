"""CRM-neutral value types shared by every adapter and by the sync core.

Everything here is frozen and validated on construction, so a value that made it
into the model is known to be well-formed: money is ``Decimal`` with a currency,
time is timezone-aware UTC, ids are strings (Bitrix24 ids arrive as strings,
amoCRM ids as numbers; the model does not care).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def require_utc(value: dt.datetime, what: str) -> dt.datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes outright."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its ISO 4217 currency. Never a float."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money.amount must be Decimal, got {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise ValueError(f"Money.amount must be finite, got {self.amount}")
        if not _CURRENCY.match(self.currency):
            raise ValueError(f"currency must be a 3-letter ISO code, got {self.currency!r}")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class Semantics(StrEnum):
    """Where a stage sits in the deal's life: still open, won, or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    name: str
    pipeline_id: str
    semantics: Semantics
    sort: int = 0


@dataclass(frozen=True, slots=True)
class Pipeline:
    id: str
    name: str
    stages: tuple[Stage, ...]
    is_default: bool = False

    def stage_by_name(self, name: str) -> Stage | None:
        wanted = name.casefold().strip()
        return next((s for s in self.stages if s.name.casefold().strip() == wanted), None)

    def stage_by_id(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


class FieldKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    MONEY = "money"
    ENUM = "enum"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    USER = "user"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class EnumOption:
    id: str
    value: str


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A custom field as the CRM describes it; ``id`` is what deal fields are keyed by."""

    id: str
    name: str
    kind: FieldKind
    multiple: bool = False
    options: tuple[EnumOption, ...] = ()
    code: str | None = None

    def option_by_value(self, value: str) -> EnumOption | None:
        wanted = value.casefold().strip()
        return next((o for o in self.options if o.value.casefold().strip() == wanted), None)


# A custom-field value as the model carries it. Enumerations are option ids (str);
# multiple fields are tuples. None means "empty".
FieldValue: TypeAlias = (
    str | int | bool | Decimal | Money | dt.date | dt.datetime | tuple[str, ...] | None
)


def _frozen_mapping(values: Mapping[str, FieldValue]) -> Mapping[str, FieldValue]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class User:
    """A person with a login in a CRM (deals' responsible users)."""

    id: str
    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """The client person. ``id`` is None for a contact not yet created."""

    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    tax_id: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal as read from a CRM, at one moment (its ``updated_at``)."""

    id: str
    title: str
    pipeline_id: str
    stage_id: str
    amount: Money | None
    created_at: dt.datetime
    updated_at: dt.datetime
    responsible_id: str | None = None
    contact_ids: tuple[str, ...] = ()
    company_id: str | None = None
    stamp: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    modified_by: str | None = None  # the CRM user who last changed it, when the CRM says

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", require_utc(self.created_at, "Deal.created_at"))
        object.__setattr__(self, "updated_at", require_utc(self.updated_at, "Deal.updated_at"))
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))


@dataclass(frozen=True, slots=True)
class DealDraft:
    """A deal to create. ``key`` identifies it in the per-item write results.

    ``stamp`` is the bridge's idempotency mark (the agency deal id); the adapter
    stores it where it can search for it later.
    """

    key: str
    title: str
    pipeline_id: str
    stage_id: str
    amount: Money | None = None
    responsible_id: str | None = None
    contact: Contact | None = None
    company: Company | None = None
    stamp: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))


@dataclass(frozen=True, slots=True)
class DealPatch:
    """Changes to one existing deal. Attributes left as None are not touched.

    To clear a custom field, put it in ``fields`` with the value None.
    """

    deal_id: str
    title: str | None = None
    pipeline_id: str | None = None
    stage_id: str | None = None
    amount: Money | None = None
    responsible_id: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    # The bridge's stamp, set on a deal the bridge did not create (a partner-registered
    # lead, once its agency deal exists); None leaves the stamp as it is.
    stamp: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", _frozen_mapping(self.fields))

    @property
    def key(self) -> str:
        return self.deal_id


@dataclass(frozen=True, slots=True)
class Note:
    deal_id: str
    text: str
    id: str | None = None
    created_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.created_at is not None:
            object.__setattr__(self, "created_at", require_utc(self.created_at, "Note.created_at"))


class HintKind(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    MOVED = "moved"


@dataclass(frozen=True, slots=True)
class Hint:
    """ "Deal ``deal_id`` in ``system`` may have changed" — never the data itself."""

    system: str
    deal_id: str
    kind: HintKind
    received_at: dt.datetime
    source: str = "webhook"

    def __post_init__(self) -> None:
        object.__setattr__(self, "received_at", require_utc(self.received_at, "Hint.received_at"))


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of deals changed since a cursor.

    ``watermark`` is the CRM's own time when the listing started. Every change made
    before it is either in this listing or will be in a listing that starts at
    ``watermark``; a cursor may therefore advance to it, never beyond.
    """

    deals: tuple[Deal, ...]
    watermark: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "watermark", require_utc(self.watermark, "watermark"))


# --- links -----------------------------------------------------------------------
# The sync state of one agency deal ↔ partner deal link: the planner reads and
# returns it, the store (bridge.store.links) loads and saves it.

# A normalised value the planner compares and the store persists. Integers become
# Decimal, option lists become tuples; ``None`` is "empty".
CanonicalValue: TypeAlias = (
    str | bool | Decimal | Money | dt.date | dt.datetime | tuple["CanonicalValue", ...] | None
)

LinkKey: TypeAlias = tuple[str, str]  # (agency deal id, partner code)

# Slots whose agency value the bridge wrote from this link and nobody changed since
# (kept in ``synced`` so it persists with it). Fan-out siblings use it to tell this
# link's write to the shared agency deal from a person's edit.
AGENCY_WRITES_KEY = "@agency_writes"
# The first words of every note the bridge writes (mirrored notes, its own notices to the
# agency or a partner): a note carrying it is never mirrored (sync.plan.notes).
NOTE_MARKER = "[partner-bridge]"


def bridge_note(text: str) -> str:
    """``text`` as a note the bridge writes for its own reasons: marked, so never mirrored."""
    return text if text.lstrip().startswith(NOTE_MARKER) else f"{NOTE_MARKER} {text}"


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
    # This link's own outcome: the semantics of the partner deal's stage as last mirrored
    # (open / won / lost). Under fan-out each partner has its own; the ledger, KPIs and
    # digests read it, never the shared agency deal's stage. None: not known yet.
    outcome: Semantics | None = None

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
