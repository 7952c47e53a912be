"""The compiled form of ``mapping.yaml``: frozen, typed, every name resolved to an id.

This is the only shape of the mapping that anything downstream of
:mod:`bridge.mapping` sees. The planner and the ledger read it; nobody re-reads
YAML. A compiled mapping is produced in two steps:

1. *validate* (offline): YAML → a checked spec with names, or every problem listed;
2. *resolve* (online): names → ids against the live CRMs.

A name that no longer resolves (drift: a partner renamed a stage) does not fail
the whole mapping. It is carried as a :class:`Broken` entry so that only the
deals that need it are parked, with the reason written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bridge.fx.rates import Rate
from bridge.kpi.decline import DeclineRule
from bridge.model import FieldValue, Money
from bridge.secrets import Secret

DEFAULT_TIMEZONE = "Europe/Moscow"
GROUP_KEYS = ("segment", "manager", "grade")


class CrmKind(StrEnum):
    BITRIX24 = "bitrix24"
    AMOCRM = "amocrm"


class Side(StrEnum):
    AGENCY = "agency"
    PARTNER = "partner"


class Direction(StrEnum):
    TO_PARTNER = "to_partner"
    TO_AGENCY = "to_agency"
    BOTH = "both"


class Target(StrEnum):
    """What a field map points at on one side of a link."""

    TITLE = "title"
    AMOUNT = "amount"
    RESPONSIBLE = "responsible"
    CUSTOM = "custom"  # a custom/user field, by resolved ``field_id``
    CONTACT_NAME = "contact.name"
    CONTACT_PHONE = "contact.phone"
    CONTACT_EMAIL = "contact.email"
    COMPANY_NAME = "company.name"
    COMPANY_TAX_ID = "company.tax_id"


class ConverterKind(StrEnum):
    TEXT = "text"
    MONEY = "money"
    NUMBER = "number"
    PHONE = "phone"
    EMAIL = "email"
    DATE = "date"
    ENUM = "enum"
    USER = "user"


class UnmappedStage(StrEnum):
    """What to do with a deal in a stage the stage map does not mention."""

    IGNORE = "ignore"  # keep the other side's stage as it is, sync the rest
    PARK = "park"  # park the deal with a reason until an admin maps the stage


class StatusRequests(StrEnum):
    """Which open deals the weekly status request asks about."""

    STALE = "stale"  # only deals unchanged for ``stale_after``
    OPEN = "open"  # every open deal


class RuleKind(StrEnum):
    PERCENT_OF_AMOUNT = "percent_of_amount"
    PERCENT_OF_FEE = "percent_of_fee"
    PERCENT_OF_PAYMENTS = "percent_of_payments"


class TierBy(StrEnum):
    """What picks a tier: the deal's own base, or the partner's wins in a period."""

    DEAL_AMOUNT = "deal_amount"
    WON_AMOUNT = "won_amount"
    WON_COUNT = "won_count"


class TierMode(StrEnum):
    MARGINAL = "marginal"  # each slice of the base at its own tier's percent
    WHOLE = "whole"  # the whole base at the percent of the tier it reaches


class TierPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier: ``rate`` applies up to ``up_to`` (None: no upper bound)."""

    up_to: Decimal | None
    rate: Decimal  # a fraction


@dataclass(frozen=True, slots=True)
class Tiers:
    tiers: tuple[Tier, ...]
    mode: TierMode
    by: TierBy = TierBy.DEAL_AMOUNT
    period: TierPeriod | None = None  # set for WON_AMOUNT / WON_COUNT


@dataclass(frozen=True, slots=True)
class FieldEnd:
    """One side of a field map. ``label`` is how mapping.yaml named it, for messages."""

    target: Target
    label: str
    field_id: str | None = None  # set for Target.CUSTOM


@dataclass(frozen=True, slots=True)
class Converter:
    """A named converter. Value tables are keyed by option/user id on the *from* side."""

    kind: ConverterKind
    to_partner: Mapping[str, str] = field(default_factory=dict)  # ENUM/USER: agency id → partner id
    to_agency: Mapping[str, str] = field(default_factory=dict)  # ENUM/USER: partner id → agency id
    currency: str | None = None  # MONEY: the currency a bare number on either side is in


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Agency field ↔ partner field, with the rules that govern its sync."""

    name: str  # the key in mapping.yaml, e.g. "brief"
    agency: FieldEnd
    partner: FieldEnd
    direction: Direction
    converter: Converter
    owner: Side | None = None  # required for Direction.BOTH: whose value wins a conflict
    default: FieldValue = None  # written when the source is empty (None: leave empty)

    def flows_to(self, side: Side) -> bool:
        if self.direction is Direction.BOTH:
            return True
        return (self.direction is Direction.TO_PARTNER) == (side is Side.PARTNER)


@dataclass(frozen=True, slots=True)
class Broken:
    """A mapped name that did not resolve. Deals that need it are parked with ``reason``."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class StageMap:
    """Agency stage ↔ partner stage, resolved to ids, for one partner pipeline.

    ``broken_agency`` / ``broken_partner`` hold the stage ids on that side whose
    counterpart did not resolve (keyed by the id that *did* resolve).
    """

    to_partner: Mapping[str, str]  # agency stage id → partner stage id
    to_agency: Mapping[str, str]  # partner stage id → agency stage id
    unmapped: UnmappedStage = UnmappedStage.PARK
    broken_agency: Mapping[str, Broken] = field(default_factory=dict)
    broken_partner: Mapping[str, Broken] = field(default_factory=dict)
    initial_partner_stage: str | None = None  # where a new partner deal starts, if not mapped


@dataclass(frozen=True, slots=True)
class CommissionRule:
    kind: RuleKind
    rate: Decimal  # a fraction: 25 % is Decimal("0.25")
    payer: Side  # who owes the money
    currency: str
    source_field: FieldEnd | None = None  # PERCENT_OF_FEE: the fee field; OF_PAYMENTS: paid field
    due_days: int = 0  # payable this many days after the cause was seen
    hold_days: int = 0  # optional hold before an accrual becomes payable
    tiers: Tiers | None = None  # progressive: ``rate`` is then the first tier's
    since: dt.date | None = None  # ``from:`` — governs wins/payments on or after (UTC)
    until: dt.date | None = None  # governs wins/payments before this day (UTC)


@dataclass(frozen=True, slots=True)
class Override:
    """The parent's share of this (child) partner's commission."""

    parent: str  # the parent partner's code
    rate: Decimal  # a fraction of the base
    of: str  # the base: "commission"
    payer: Side  # who pays the parent


@dataclass(frozen=True, slots=True)
class Commission:
    rules: tuple[CommissionRule, ...] = ()
    membership_fee: Money | None = None  # yearly, owed by the partner
    override: Override | None = None  # set on a child whose parent earns an override


class ScheduleKind(StrEnum):
    WITHIN = "within"  # every day; each item due N days after it arose
    WEEKLY = "weekly"
    TWICE_MONTHLY = "twice_monthly"


@dataclass(frozen=True, slots=True)
class PayoutSchedule:
    """When a partner's payouts run (``payouts:`` in mapping.yaml)."""

    kind: ScheduleKind
    within_days: int = 0  # WITHIN
    weekday: int = 4  # WEEKLY: 0 = Monday
    days: tuple[int, ...] = ()  # TWICE_MONTHLY: days of the month
    minimum: Decimal | None = None  # lines below this carry over; None: no minimum
    netting: bool = False

    def runs_on(self, day: dt.date) -> bool:
        """Whether ``day`` is a run day (a day past a month's end counts as its last)."""
        if self.kind is ScheduleKind.WITHIN:
            return True
        if self.kind is ScheduleKind.WEEKLY:
            return day.weekday() == self.weekday
        last = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return any(min(d, last.day) == day.day for d in self.days)


@dataclass(frozen=True, slots=True)
class Legal:
    """A partner's legal and bank details for the payment registry (``legal:``)."""

    name: str
    inn: str | None = None
    kpp: str | None = None
    account: str | None = None
    bic: str | None = None
    bank: str | None = None
    correspondent_account: str | None = None


@dataclass(frozen=True, slots=True)
class FanOut:
    """How one agency deal handed to several partners behaves (sync/plan/fanout.py).

    ``agency_follows`` (programme-wide): ``most_advanced`` — the agency deal moves forward
    with the most advanced partner, is won when a partner wins (with that partner's
    amount) and lost only when every partner lost; ``won_only`` — it moves only then.
    A partner that lost never writes to it. ``on_win`` (per partner): when another
    partner wins, this partner's open deal gets a note, is closed (moved to its lost
    stage) or is left alone. ``on_reroute`` (per partner): when the agency re-routes a
    deal away from this partner, its deal gets a note, is closed, or is left alone.
    """

    agency_follows: str = "most_advanced"
    on_win: str = "note"
    on_reroute: str = "note"


@dataclass(frozen=True, slots=True)
class Policies:
    fan_out: FanOut = field(default_factory=FanOut)
    poll_interval: dt.timedelta = dt.timedelta(seconds=60)
    reconcile_at: dt.time = dt.time(3, 0)  # UTC
    stale_after: dt.timedelta = dt.timedelta(days=7)
    digest_weekday: int = 0  # Monday
    status_request_notes: bool = False
    status_request_deals: StatusRequests = StatusRequests.STALE
    mirror_notes: bool = False  # off unless the mapping turns it on (it costs reads)
    channel_conflict_window: dt.timedelta = dt.timedelta(days=90)
    hold_on_channel_conflict: bool = False
    language: str = "ru"
    # What a partner's first sync hands over (DESIGN §5, the first connection): "open",
    # "all", or a date — closed agency deals created on or after it are handed over too.
    history: str | dt.date = "open"
    # A cumulative paid field that grows by more than this × the deal amount in one step
    # parks the link (DESIGN §6, money that cannot be right).
    max_payment_jump: Decimal = Decimal(2)
    # An agency amount the partner's CRM cannot hold exactly (amoCRM: whole units): "park"
    # (the default), or rounded for the partner ("down" / "nearest") with an audit line.
    amount_rounding: str = "park"
    # The partner cabinet shows a partner its own leaderboard position (programme-wide),
    # ranked by this KPI (a name of bridge.kpi.rank.RANKINGS, as ``bridge kpi --rank-by``).
    publish_ratings: bool = False
    ratings_by: str = "won_amount"


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach one CRM account. Every credential is a :class:`Secret`."""

    kind: CrmKind
    url: Secret  # Bitrix24: the inbound webhook URL; amoCRM: the account base URL
    token: Secret | None = None  # amoCRM long-lived token
    client_id: str | None = None  # amoCRM OAuth integration
    client_secret: Secret | None = None
    redirect_uri: str | None = None
    webhook_secret: Secret | None = None  # amoCRM: the random path secret of our hook URL
    application_token: Secret | None = None  # Bitrix24: outgoing-webhook token to check
    company_tax_id_field: str | None = None  # amoCRM: the company field with the ИНН
    # amoCRM: the account's currency (a lead's price carries none); the partner's ``currency``
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class AgencyConfig:
    connection: Connection
    pipeline_id: str
    pipeline_name: str
    routing_field_id: str  # the UF that routes a deal to partners (multiple → fan-out)
    routing_multiple: bool
    currency: str = "RUB"
    timezone: str = DEFAULT_TIMEZONE  # the programme's zone: digest weekday, fee dates


@dataclass(frozen=True, slots=True)
class Groups:
    """How the programme groups a partner (``segment:``, ``manager:``, ``grade:``)."""

    segment: str | None = None
    manager: str | None = None
    grade: str | None = None

    def of(self, by: str) -> str | None:
        """The partner's group under ``by`` (segment, manager or grade)."""
        if by not in GROUP_KEYS:
            raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUP_KEYS)}")
        value: str | None = getattr(self, by)
        return value


@dataclass(frozen=True, slots=True)
class LeadsConfig:
    """Partner-registered leads: which partner deals the partner passes to the agency, where
    the agency deal is created, and the commission for leads the partner brought."""

    agency_pipeline_id: str
    agency_stage_id: str
    partner_pipeline_id: str | None = None  # a deal in this pipeline (at ``partner_stage_id``)
    partner_stage_id: str | None = None
    field_id: str | None = None  # … or with this partner field set (any non-empty value)
    commission: Commission = field(default_factory=Commission)

    def selects(self, pipeline_id: str, stage_id: str, fields: Mapping[str, FieldValue]) -> bool:
        """Whether a partner deal with these values is a lead for the agency."""
        if self.field_id is not None and not _set(fields.get(self.field_id)):
            return False
        if self.partner_pipeline_id is not None and pipeline_id != self.partner_pipeline_id:
            return False
        return self.partner_stage_id is None or stage_id == self.partner_stage_id


def _set(value: FieldValue) -> bool:
    """A designated field counts as set when it holds anything but empty/false/"0"/"N"."""
    if value is None or value is False or value in ((), ""):
        return False
    return not (isinstance(value, str) and value.strip().casefold() in {"0", "n", "no", "нет"})


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    code: str
    name: str
    connection: Connection
    pipeline_id: str
    pipeline_name: str
    routing_value: str  # the routing field's option id (or text) that sends a deal here
    stages: StageMap
    fields: tuple[FieldMap, ...]
    commission: Commission
    policies: Policies
    paused: bool = False
    stamp_field_id: str | None = None  # amoCRM: the custom field holding the agency deal id
    currency: str = "RUB"
    broken_fields: tuple[Broken, ...] = ()  # field maps dropped because a name did not resolve
    # Set when the partner cannot sync at all (its CRM or pipeline did not resolve); such a
    # partner is also ``paused``, and its deals park with this reason.
    unavailable: Broken | None = None
    joined: dt.date | None = None  # start of the contract: membership fee years count from it
    groups: Groups = field(default_factory=Groups)
    # False when the mapping leaves the deal amount unmapped (`fields: {amount: null}`):
    # the built-in amount mirror is not added, and nothing parks for the amount.
    amount_mirrored: bool = True
    leads: LeadsConfig | None = None  # partner-registered leads, if the partner passes any


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    version: int
    agency: AgencyConfig
    partners: Mapping[str, PartnerConfig]
    policies: Policies = field(default_factory=Policies)
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # language → key → text
    decline: DeclineRule | None = None  # alerts.decline of mapping.yaml; None: no alerts
    # Exchange rates kept in mapping.yaml; the store's (bridge rates set) come after them.
    rates: tuple[Rate, ...] = ()

    def routed_partners(self, routing_value: FieldValue) -> tuple[PartnerConfig, ...]:
        """Partners a deal goes to, given its routing field's value (one or many ids)."""
        if routing_value is None:
            return ()
        values = routing_value if isinstance(routing_value, tuple) else (str(routing_value),)
        wanted = set(values)
        return tuple(p for p in self.partners.values() if p.routing_value in wanted)
