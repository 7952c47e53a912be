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

from bridge.mapping.compiled import ConverterKind, CrmKind, Direction, RuleKind, Side
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


class ConnectionSpec(_Spec):
    """How to reach a partner CRM. Credentials are ${ENV_VAR} references only."""

    url: StrictStr = Field(description="Bitrix24: inbound webhook URL; amoCRM: account URL")
    token: StrictStr | None = Field(None, description="amoCRM long-lived token")
    client_id: StrictStr | None = None
    client_secret: StrictStr | None = None
    redirect_uri: StrictStr | None = None
    webhook_secret: StrictStr | None = Field(None, description="amoCRM: our hook's path secret")
    application_token: StrictStr | None = Field(None, description="Bitrix24 outgoing token")


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


class RuleSpec(_Spec):
    kind: RuleKind
    percent: Decimal = Field(description="25 means 25 %")
    payer: Side = Field(description="Who owes the money")
    fee_field: Name | None = Field(None, description="percent_of_fee: agency fee field")
    paid_field: Name | None = Field(None, description="percent_of_payments: paid field")
    due_days: StrictInt = 0


class CommissionSpec(_Spec):
    rules: list[RuleSpec] = Field(default_factory=list)
    currency: StrictStr | None = None
    hold_days: StrictInt = 0
    membership_fee: Decimal | None = Field(None, description="Yearly, owed by the partner")


class PoliciesSpec(_Spec):
    poll_interval: StrictStr | StrictInt | None = Field(None, description="60, '90s', '5m'")
    reconcile_at: StrictStr | None = Field(None, description="'03:00' (UTC)")
    stale_after_days: StrictInt | None = None
    digest_day: Weekday | None = None
    status_request_notes: StrictBool | None = None
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
    publish_ratings: StrictBool | None = Field(
        None,
        description="Show each partner its own leaderboard position (and the number of "
        "partners, never the others' names or figures) in its cabinet; programme-wide, "
        "under defaults.policies only (default false)",
    )


class DefaultsSpec(_Spec):
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    unmapped_stages: Unmapped | None = None
    commission: CommissionSpec | None = None
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
    stages: StagesSpec
    fields: dict[str, FieldSpec | None] = Field(
        default_factory=dict, description="Overrides; null drops a default field"
    )
    commission: CommissionSpec | None = None
    policies: PoliciesSpec = PoliciesSpec.model_validate({})


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
    rates: list[RateSpec] = Field(
        default_factory=list,
        description="Exchange rates besides those entered with `bridge rates set`",
    )
