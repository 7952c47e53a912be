"""The validated, merged mapping (``MappingSpec``): defaults applied, secrets read, names kept.

This is what offline validation produces and online resolution consumes. It
still speaks in names ("Квалификация", "Бриф"); :mod:`bridge.mapping.resolve`
turns them into ids. Each part remembers its key path so resolution problems
point at the right line of mapping.yaml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bridge.fx.rates import Rate
from bridge.kpi.decline import DeclineRule
from bridge.mapping.compiled import (
    DEFAULT_TIMEZONE,
    Connection,
    ConverterKind,
    Direction,
    Groups,
    Legal,
    Override,
    PayoutSchedule,
    Policies,
    RuleKind,
    Side,
    Tiers,
    UnmappedStage,
)
from bridge.mapping.errors import KeyPath
from bridge.mapping.yaml_loader import LoadedYaml

STANDARD_TARGETS = (
    "title",
    "amount",
    "responsible",
    "contact.name",
    "contact.phone",
    "contact.email",
    "company.name",
    "company.tax_id",
)


@dataclass(frozen=True, slots=True)
class FieldMapSpec:
    name: str
    agency: str  # a standard target or a custom field name/id
    partner: str
    direction: Direction
    converter: ConverterKind
    path: KeyPath
    owner: Side | None = None
    values: Mapping[str, str] = field(default_factory=dict)  # agency value → partner value
    currency: str | None = None
    default: str | int | Decimal | bool | None = None


@dataclass(frozen=True, slots=True)
class StageLink:
    agency: str
    partner: str
    direction: Direction
    path: KeyPath


@dataclass(frozen=True, slots=True)
class StagesMapSpec:
    links: tuple[StageLink, ...]
    unmapped: UnmappedStage
    path: KeyPath
    initial: str | None = None


@dataclass(frozen=True, slots=True)
class RuleSpecMerged:
    kind: RuleKind
    rate: Decimal  # a fraction
    payer: Side
    currency: str
    path: KeyPath
    source_field: str | None = None  # fee/paid field: a field-map key or an agency field
    due_days: int = 0
    hold_days: int = 0
    tiers: Tiers | None = None
    since: dt.date | None = None
    until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class LeadsSpecMerged:
    agency_stage: str
    path: KeyPath
    pipeline: str | None = None
    stage: str | None = None
    field: str | None = None
    agency_pipeline: str | None = None
    rules: tuple[RuleSpecMerged, ...] | None = None  # None: the partner's own rules


@dataclass(frozen=True, slots=True)
class AgencySpecMerged:
    connection: Connection
    pipeline: str
    routing_field: str
    currency: str
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True, slots=True)
class PartnerSpecMerged:
    code: str
    name: str
    connection: Connection
    pipeline: str
    routing_value: str
    paused: bool
    currency: str
    stages: StagesMapSpec
    fields: tuple[FieldMapSpec, ...]
    rules: tuple[RuleSpecMerged, ...]
    membership_fee: Decimal | None
    policies: Policies
    path: KeyPath
    joined: dt.date | None = None
    groups: Groups = field(default_factory=Groups)
    payouts: PayoutSchedule | None = None
    legal: Legal | None = None
    override: Override | None = None  # set on a child: what its parent earns from it
    amount_mirrored: bool = True  # False: `fields: {amount: null}` — the amount is not mirrored
    leads: LeadsSpecMerged | None = None


@dataclass(frozen=True)
class MappingSpec:
    """A mapping.yaml that passed offline validation."""

    file: str
    version: int
    agency: AgencySpecMerged
    partners: Mapping[str, PartnerSpecMerged]
    policies: Policies
    loaded: LoadedYaml  # node positions, for resolution messages
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # language → key → text
    decline: DeclineRule | None = None  # alerts.decline; None: no decline alerts
    rates: tuple[Rate, ...] = ()  # exchange rates kept in mapping.yaml (bridge.fx.rates)
