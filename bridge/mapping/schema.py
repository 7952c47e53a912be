"""Pydantic models of the raw ``mapping.yaml`` (names, not ids), version 1.

These models only check shapes: known keys, types, allowed words. Rules that
span keys (``both`` needs an owner, a field mapped twice, converters that do
not fit) live in :mod:`bridge.mapping.validate`, which sees every problem at
once. The JSON Schema shipped for editors is generated from these models.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from bridge.mapping.compiled import (
    ConverterKind,
    CrmKind,
    Direction,
    RuleKind,
    Side,
    StatusRequests,
    TierBy,
    TierMode,
    TierPeriod,
)
from bridge.mapping.compiled import UnmappedStage as Unmapped

FORMAT_VERSION = 1

Name = StrictStr | StrictInt  # a CRM object by name, or by id
Scalar = StrictStr | StrictInt | Decimal | StrictBool


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencySpec(_Spec):
    """The agency's Bitrix24 portal."""

    kind: Literal["bitrix24"] = "bitrix24"
    webhook: StrictStr = Field(description="Inbound webhook URL, as ${ENV_VAR}")
    application_token: StrictStr | None = Field(
        None, description="Outgoing-webhook application token, as ${ENV_VAR}"
    )
    pipeline: Name = Field(description="The partner-deal pipeline (category), by name or id")
    routing_field: StrictStr = Field(description="The user field routing deals to partners")
    currency: StrictStr = Field("RUB", description="ISO 4217 code the agency reports in")
    timezone: StrictStr | None = Field(
        None,
        description="The programme's time zone (IANA name), for the digest weekday and "
        "membership fee dates (default Europe/Moscow)",
    )


class ConnectionSpec(_Spec):
    """How to reach a partner CRM. Credentials are ${ENV_VAR} references only."""

    url: StrictStr = Field(description="Bitrix24: inbound webhook URL; amoCRM: account URL")
    token: StrictStr | None = Field(None, description="amoCRM long-lived token")
    client_id: StrictStr | None = None
    client_secret: StrictStr | None = None
    redirect_uri: StrictStr | None = None
    webhook_secret: StrictStr | None = Field(None, description="amoCRM: our hook's path secret")
    application_token: StrictStr | None = Field(None, description="Bitrix24 outgoing token")
    company_tax_id_field: StrictStr | None = Field(
        None, description="amoCRM: the company field holding the ИНН, by name or code (ИНН)"
    )


class FieldSpec(_Spec):
    """Agency field ↔ partner field. Partner entries override the default entry key by key."""

    agency: Name | None = Field(None, description="title, amount, responsible, contact.*, …")
    partner: Name | None = None
    direction: Direction | None = None
    owner: Side | None = Field(None, description="Whose value wins; required for 'both'")
    converter: ConverterKind | None = None
    values: dict[str, Name] | None = Field(None, description="enum/user: agency → partner")
    currency: StrictStr | None = None
    default: Scalar | None = Field(None, description="Written when the source is empty")


class StageLinkSpec(_Spec):
    partner: Name
    direction: Direction = Direction.BOTH


class StagesSpec(_Spec):
    """Agency stage → partner stage, a list of them, or ``{partner: …, direction: …}``.

    With a list, the agency stage moves a partner deal to the first partner stage,
    and every listed partner stage maps back to the agency stage.
    """

    map: dict[str, Name | list[Name] | StageLinkSpec] = Field(default_factory=dict)
    unmapped: Unmapped | None = Field(None, description="What to do with unmapped stages")
    initial: Name | None = Field(None, description="Partner stage a new deal starts in")


class TierSpec(_Spec):
    up_to: StrictInt | Decimal | None = Field(
        None, description="Upper bound of this tier (amount or deal count); omit on the last"
    )
    percent: Decimal = Field(description="25 means 25 %")


class RuleSpec(_Spec):
    kind: RuleKind
    percent: Decimal | None = Field(None, description="25 means 25 %; or give 'tiers:'")
    payer: Side = Field(description="Who owes the money")
    fee_field: Name | None = Field(None, description="percent_of_fee: agency fee field")
    paid_field: Name | None = Field(None, description="percent_of_payments: paid field")
    due_days: StrictInt = 0
    tiers: list[TierSpec] | None = Field(
        None, description="Progressive percent: [{up_to: 1000000, percent: 10}, {percent: 15}]"
    )
    tier_by: TierBy | None = Field(
        None, description="deal_amount (default), won_amount or won_count in 'period:'"
    )
    mode: TierMode | None = Field(None, description="marginal or whole; required with tiers")
    period: TierPeriod | None = Field(
        None, description="won_amount/won_count: month, quarter or year (UTC calendar)"
    )
    from_: StrictStr | None = Field(
        None,
        alias="from",
        description='"YYYY-MM-DD": the rule governs wins and payments from this day (UTC)',
    )
    until: StrictStr | None = Field(
        None, description='"YYYY-MM-DD": the rule governs wins and payments before this day'
    )


class OverrideOf(StrEnum):
    COMMISSION = "commission"  # the child's booked commission, every rule, as booked


class OverrideSpec(_Spec):
    """What a parent partner earns from the partners that name it as their ``parent:``."""

    percent: Decimal = Field(description="5 means 5 % of the base")
    of: OverrideOf = Field(description="The base: commission (the child's booked commission)")
    payer: Side = Field(description="Who pays the override to the parent")


class PayoutsSpec(_Spec):
    """When payouts are made: one of within, weekly, twice_monthly."""

    within: StrictStr | StrictInt | None = Field(
        None, description="'3d': every day, each item due 3 days after the client's payment"
    )
    weekly: Weekday | None = Field(None, description="A run every such weekday")
    twice_monthly: list[StrictInt] | None = Field(
        None, description="Two days of the month, e.g. [1, 15]"
    )
    minimum: StrictInt | Decimal | None = Field(
        None, description="Lines below this carry over to the next run (default: none)"
    )
    netting: StrictBool = Field(
        False, description="true: what each side owes is netted into one line per currency"
    )


class LegalSpec(_Spec):
    """The partner's legal details for the payment registry."""

    name: StrictStr = Field(description="Legal name, e.g. ООО «Альфа»")
    inn: Name | None = Field(None, description="INN: 10 or 12 digits, in quotes")
    kpp: Name | None = Field(None, description="KPP: 9 digits")
    account: Name | None = Field(None, description="Settlement account: 20 digits, in quotes")
    bic: Name | None = Field(None, description="Bank BIC: 9 digits, in quotes")
    bank: StrictStr | None = Field(None, description="Bank name")
    correspondent_account: Name | None = Field(None, description="20 digits, in quotes")


class CommissionSpec(_Spec):
    rules: list[RuleSpec] = Field(default_factory=list)
    currency: StrictStr | None = None
    hold_days: StrictInt = 0
    membership_fee: Decimal | None = Field(None, description="Yearly, owed by the partner")


class FanOutSpec(_Spec):
    agency_follows: Literal["most_advanced", "won_only"] | None = Field(
        None,
        description="Programme-wide: the agency deal moves forward with the most advanced "
        "partner (most_advanced, default) or only when a partner wins / all lost (won_only)",
    )
    on_win: Literal["note", "close", "none"] | None = Field(
        None,
        description="When another partner wins the deal: tell this partner with a note "
        "(default), close its deal (its lost stage), or do nothing",
    )
    on_reroute: Literal["note", "close", "none"] | None = Field(
        None,
        description="When the agency re-routes a deal away from this partner: a note on its "
        "deal (default), close its deal (its lost stage), or do nothing",
    )


class LeadsSpec(_Spec):
    """Partner-registered leads: a partner deal in this pipeline/stage (or with this field
    set) becomes a new agency deal, attributed to the partner."""

    pipeline: Name | None = Field(
        None, description="Partner pipeline where the partner registers leads for the agency"
    )
    stage: Name | None = Field(
        None, description="Partner stage (in 'pipeline', else the partner pipeline)"
    )
    field: Name | None = Field(None, description="Partner field: a deal with it set is a lead")
    agency_pipeline: Name | None = Field(
        None, description="Agency pipeline the lead is created in (default: agency.pipeline)"
    )
    agency_stage: Name = Field(description="Agency stage a new lead starts in")
    commission: CommissionSpec | None = Field(
        None, description="The partner's commission on leads it brought (default: its own)"
    )


class PoliciesSpec(_Spec):
    fan_out: FanOutSpec | None = Field(
        None, description="One deal handed to several partners; re-routing (see docs/money.md)"
    )
    poll_interval: StrictStr | StrictInt | None = Field(None, description="60, '90s', '5m'")
    reconcile_at: StrictStr | None = Field(None, description="'03:00' (UTC)")
    stale_after_days: StrictInt | None = None
    digest_day: Weekday | None = None
    status_request_notes: StrictBool | None = None
    status_request_deals: StatusRequests | None = Field(
        None,
        description="Which deals the weekly status request asks about: 'stale' (unchanged "
        "for stale_after_days, default) or 'open' (every open deal)",
    )
    mirror_notes: StrictBool | None = None
    channel_conflict_days: StrictInt | None = None
    hold_on_channel_conflict: StrictBool | None = None
    language: Literal["ru", "en"] | None = None
    history: StrictStr | None = Field(
        None,
        description="What a partner's first sync hands over: 'open' (default), 'all', "
        "or a date 'YYYY-MM-DD' (closed deals created on or after it too)",
    )
    max_payment_jump: StrictInt | Decimal | None = Field(
        None,
        description="A paid field growing by more than this × the deal amount at once parks "
        "the link (default 2)",
    )
    round: Literal["park", "down", "nearest"] | None = Field(
        None,
        description="An agency amount the partner's CRM cannot hold exactly (amoCRM keeps "
        "whole units): 'park' the deal (default), or send it rounded 'down' or to the "
        "'nearest' unit, with an audit line for each rounding",
    )
    publish_ratings: StrictBool | None = Field(
        None,
        description="Show each partner its own leaderboard position (and the number of "
        "partners, never the others' names or figures) in its cabinet; programme-wide, "
        "under defaults.policies only (default false)",
    )
    ratings_by: StrictStr | None = Field(
        None,
        description="The KPI the cabinet's rating ranks partners by, named as in "
        "'bridge kpi --rank-by' (won_amount, won, conversion, commission, reaction, ...); "
        "programme-wide, under defaults.policies only (default won_amount)",
    )


class DefaultsSpec(_Spec):
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    unmapped_stages: Unmapped | None = None
    commission: CommissionSpec | None = None
    payouts: PayoutsSpec | None = None
    policies: PoliciesSpec = PoliciesSpec.model_validate({})


class PartnerSpec(_Spec):
    name: StrictStr
    kind: CrmKind
    connection: ConnectionSpec
    pipeline: Name
    routing_value: StrictStr | None = Field(None, description="Routing option; default: name")
    paused: StrictBool = False
    currency: StrictStr | None = Field(
        None,
        description=(
            "ISO 4217 code the partner's CRM keeps amounts in (default: agency.currency);"
            " converted only at rates entered with `bridge rates set`"
        ),
    )
    joined: StrictStr | None = Field(
        None,
        description="The date the partner joined the programme, 'YYYY-MM-DD': its membership "
        "fee is due on each anniversary (contract years), never before",
    )
    segment: StrictStr | None = Field(None, description="Group for KPIs and the digest")
    manager: StrictStr | None = Field(None, description="The agency manager of this partner")
    grade: StrictStr | None = Field(None, description="The partner's grade, e.g. gold")
    stages: StagesSpec
    fields: dict[str, FieldSpec | None] = Field(
        default_factory=dict, description="Overrides; null drops a default field"
    )
    commission: CommissionSpec | None = None
    payouts: PayoutsSpec | None = Field(None, description="Replaces defaults.payouts")
    legal: LegalSpec | None = None
    parent: StrictStr | None = Field(
        None, description="The partner code of this partner's parent (two-level programme)"
    )
    override: OverrideSpec | None = Field(
        None, description="What this partner earns from its children's commission"
    )
    policies: PoliciesSpec = PoliciesSpec.model_validate({})
    leads: LeadsSpec | None = Field(
        None, description="Leads the partner registers in its CRM for the agency"
    )


class DeclineSpec(_Spec):
    """A partner's recent activity against its own trailing baseline (bridge/kpi/decline.py)."""

    window: StrictStr | StrictInt | None = Field(None, description="Recent period: 30, '30d', '4w'")
    baseline: StrictStr | StrictInt | None = Field(
        None, description="The period before the window that is the partner's normal ('90d')"
    )
    threshold: Decimal | StrictInt | None = Field(
        None, description="Alert when an activity fell by this share or more (0.5 = by half)"
    )
    min_baseline: Decimal | StrictInt | None = Field(
        None, description="Baseline events per 30 days below which an activity is not judged (2)"
    )
    activities: list[Literal["handovers", "stage_changes", "wins", "reaction"]] | None = Field(
        None, description="Which activities to watch (default: all four)"
    )


class AlertsSpec(_Spec):
    decline: DeclineSpec | None = Field(None, description="Activity decline alerts")


class RateSpec(_Spec):
    """An exchange rate kept in the mapping: 1 ``base`` = ``rate`` ``quote`` from ``date``."""

    base: StrictStr = Field(description="ISO 4217 code of one unit, e.g. USD")
    quote: StrictStr = Field(description="ISO 4217 code it is worth `rate` of, e.g. KZT")
    rate: Decimal = Field(description="1 base = rate quote; positive")
    date: StrictStr = Field(description='Effective from, quoted: "2026-12-01"')


class MappingFile(_Spec):
    """The whole of ``mapping.yaml``."""

    version: StrictInt = Field(description=f"Format version; this bridge reads {FORMAT_VERSION}")
    agency: AgencySpec
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    partners: dict[str, PartnerSpec]
    texts: dict[Literal["ru", "en"], dict[str, StrictStr]] = Field(
        default_factory=dict,
        description="Partner-facing wording per language: notice/statement key → template",
    )
    alerts: AlertsSpec | None = Field(None, description="Programme-wide alerts for managers")
    rates: list[RateSpec] = Field(
        default_factory=list,
        description="Exchange rates besides those entered with `bridge rates set`",
    )
