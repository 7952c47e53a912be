"""A small agency + two partners world for engine tests, on the in-memory ``MemoryCrm``.

The mapping is built by hand (no resolve, no HTTP); the three accounts share one
:class:`~bridge.sandbox.memory.ManualClock` with the engine. Worlds over HTTP
against the sandboxes come from :mod:`bridge.sandbox.world`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict, Unpack

from bridge.mapping.compiled import (
    AgencyConfig,
    Broken,
    Commission,
    CommissionRule,
    CompiledMapping,
    Connection,
    CrmKind,
    PartnerConfig,
    Policies,
    RuleKind,
    Side,
    StageMap,
)
from bridge.model import Contact, Deal, Money, Pipeline, Semantics, Stage
from bridge.sandbox.memory import ManualClock, MemoryCrm
from bridge.secrets import Secret
from bridge.store.db import Store
from sync.engine import Engine, Progress
from sync.lanes import Lanes
from sync.planning import Planner

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
ROUTING = "UF_CRM_PARTNER"
AGENCY_STAGES = ("C7:NEW", "C7:WORK", "C7:WON", "C7:LOSE")


class EngineOptions(TypedDict, total=False):
    """The :class:`Engine` keyword options a test may set (the rest come from the world)."""

    planner: Planner | None
    overlap: dt.timedelta
    progress: Progress | None
    crash: Callable[[str], None]
    retry_delay: dt.timedelta
    lanes: Lanes | None
    chunk: int


def _pipeline(pid: str, ids: tuple[str, ...], names: tuple[str, ...]) -> Pipeline:
    semantics = (Semantics.OPEN, Semantics.OPEN, Semantics.WON, Semantics.LOST)
    stages = tuple(
        Stage(id=i, name=n, pipeline_id=pid, semantics=s, sort=k)
        for k, (i, n, s) in enumerate(zip(ids, names, semantics, strict=True))
    )
    return Pipeline(id=pid, name=f"Воронка {pid}", stages=stages, is_default=True)


NAMES = ("Новая", "В работе", "Успешно", "Провал")
AGENCY_PIPELINE = _pipeline("7", AGENCY_STAGES, NAMES)
AMO_STAGES = ("101", "102", "142", "143")
AMO_PIPELINE = _pipeline("55", AMO_STAGES, NAMES)
B24_STAGES = ("NEW", "EXECUTING", "WON", "LOSE")
B24_PIPELINE = _pipeline("0", B24_STAGES, NAMES)


def stage_map(partner_ids: tuple[str, ...]) -> StageMap:
    return StageMap(
        to_partner=dict(zip(AGENCY_STAGES, partner_ids, strict=True)),
        to_agency=dict(zip(partner_ids, AGENCY_STAGES, strict=True)),
    )


def _partner(code: str, kind: CrmKind, pipeline: Pipeline, ids: tuple[str, ...]) -> PartnerConfig:
    return PartnerConfig(
        code=code,
        name=f"Партнёр {code}",
        connection=Connection(kind=kind, url=Secret(f"https://{code}.example.invalid/")),
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        routing_value=f"opt-{code}",
        stages=stage_map(ids),
        fields=(),
        commission=Commission(
            rules=(
                CommissionRule(RuleKind.PERCENT_OF_AMOUNT, Decimal("0.25"), Side.PARTNER, "RUB"),
            )
        ),
        policies=Policies(),
    )


def mapping() -> CompiledMapping:
    agency = AgencyConfig(
        connection=Connection(CrmKind.BITRIX24, Secret("https://agency.example.invalid/rest/1/x")),
        pipeline_id="7",
        pipeline_name=AGENCY_PIPELINE.name,
        routing_field_id=ROUTING,
        routing_multiple=True,
    )
    partners = {
        "amo": _partner("amo", CrmKind.AMOCRM, AMO_PIPELINE, AMO_STAGES),
        "b24": _partner("b24", CrmKind.BITRIX24, B24_PIPELINE, B24_STAGES),
    }
    return CompiledMapping(version=1, agency=agency, partners=partners)


def with_broken_partner_stage(base: CompiledMapping, code: str, stage_id: str) -> CompiledMapping:
    """The mapping as resolve() compiles it after the partner renamed ``stage_id``."""
    partner = base.partners[code]
    to_agency = {k: v for k, v in partner.stages.to_agency.items() if k != stage_id}
    broken = {stage_id: Broken("В работе", "the partner renamed this stage")}
    stages = dataclasses.replace(partner.stages, to_agency=to_agency, broken_partner=broken)
    partners = {**base.partners, code: dataclasses.replace(partner, stages=stages)}
    return dataclasses.replace(base, partners=partners)


@dataclasses.dataclass
class World:
    clock: ManualClock
    agency: MemoryCrm
    amo: MemoryCrm
    b24: MemoryCrm
    store: Store
    mapping: CompiledMapping
    engines: list[Engine] = dataclasses.field(default_factory=list)

    def engine(self, **kwargs: Unpack[EngineOptions]) -> Engine:
        """A new engine on this world; :meth:`close` ends its partner-lane threads."""
        made = Engine(
            self.store,
            self.mapping,
            self.agency,
            {"amo": self.amo, "b24": self.b24},
            clock=self.clock,
            **kwargs,
        )
        self.engines.append(made)
        return made

    def close(self) -> None:
        """Close every engine made here (their lane pools), then the store."""
        for made in self.engines:
            made.close()
        self.store.close()

    def agency_deal(self, n: int, partners: tuple[str, ...] = ("amo",)) -> Deal:
        contact_id = f"ac{n}"
        self.agency.contacts[contact_id] = Contact(
            name=f"Клиент №{n}",
            phones=("+7 900 000-00-00",),
            emails=(f"c{n}@example.com",),
            id=contact_id,
        )
        return self.agency.seed(
            title=f"Сделка {n}",
            pipeline_id="7",
            stage_id="C7:NEW",
            amount=Money(Decimal(1000 + n), "RUB"),  # whole: amoCRM budgets have no kopecks
            contact_ids=(contact_id,),
            fields={ROUTING: tuple(f"opt-{p}" for p in partners)},
        )

    def calls(self) -> dict[str, int]:
        return {
            "agency": self.agency.total_calls,
            "amo": self.amo.total_calls,
            "b24": self.b24.total_calls,
        }

    def writes(self) -> int:
        return self.agency.writes + self.amo.writes + self.b24.writes

    def reset_counts(self) -> None:
        for crm in (self.agency, self.amo, self.b24):
            crm.calls.clear()


def make_world(db_url: str, start: dt.datetime = T0) -> World:
    clock = ManualClock(start)
    return World(
        clock=clock,
        agency=MemoryCrm("bitrix24:agency", [AGENCY_PIPELINE], clock=clock, page_size=50),
        amo=MemoryCrm("amocrm:amo", [AMO_PIPELINE], clock=clock, page_size=250, id_start=10_000),
        b24=MemoryCrm("bitrix24:b24", [B24_PIPELINE], clock=clock, page_size=50, id_start=50_000),
        store=Store.open(db_url),
        mapping=mapping(),
    )
