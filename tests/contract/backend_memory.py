"""The contract suite's in-memory backend: ``MemoryCrm``, the fake every other test uses.

Running it through the same suite as the HTTP adapters keeps the fake honest:
whatever the engine tests learn from it holds for the real CRMs too. There is
no HTTP here, so the sandbox's HTTP faults are translated into the error each
adapter would raise for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bridge.crm import CrmError, RateLimited, TransientError
from bridge.model import FieldDef, FieldKind, Pipeline, Semantics, Stage, User
from bridge.sandbox.emulator import Fault, FaultKind
from bridge.sandbox.memory import WRITE_OPERATIONS, ManualClock, MemoryCrm
from bridge.secrets import Secret

SYSTEM = "memory:contract"
TOKEN = "memory-contract-token-8d41e0"
BAD_TOKEN = "memory-contract-rejected-token-27b9"
TEXT_FIELD = FieldDef("UF_CRM_BRIEF", "Бриф", FieldKind.STRING, code="UF_CRM_BRIEF")
STAGES = (
    ("C1:NEW", "Новая", Semantics.OPEN),
    ("C1:PREPARATION", "Передана партнёру", Semantics.OPEN),
    ("C1:EXECUTING", "В работе у партнёра", Semantics.OPEN),
    ("C1:WON", "Сделка успешна", Semantics.WON),
    ("C1:LOSE", "Сделка провалена", Semantics.LOST),
)
PIPELINE = Pipeline(
    "1",
    "Партнёрские сделки",
    tuple(Stage(i, n, "1", s, sort=10 * k) for k, (i, n, s) in enumerate(STAGES)),
)
USERS = (User("1", "Анна Смирнова", "anna@agency.example"), User("7", "Пётр Орлов"))


def _account(clock: ManualClock, token: str) -> MemoryCrm:
    return MemoryCrm(
        SYSTEM,
        [PIPELINE],
        [TEXT_FIELD],
        clock=clock,
        users=USERS,
        token=Secret(token),
        accepted_tokens={TOKEN},
    )


@dataclass
class MemoryBackend:
    crm: MemoryCrm
    pipeline: Pipeline = PIPELINE
    text_field: FieldDef = TEXT_FIELD
    name: str = "memory"
    currency: str = "RUB"
    secrets: tuple[str, ...] = (TOKEN, BAD_TOKEN)

    def user_edit_title(self, deal_id: str, title: str) -> None:
        self.crm.user_edit(deal_id, title=title)

    def user_delete(self, deal_id: str) -> None:
        self.crm.user_delete(deal_id)

    def advance_clock(self, seconds: float) -> None:
        self.crm.clock.advance(seconds)

    def arm_fault(self, fault: Fault) -> None:
        operation = fault.method
        if fault.kind is FaultKind.DROP_AFTER_COMMIT and operation in WRITE_OPERATIONS:
            self.crm.faults.lose_response(operation, times=fault.times)
        else:
            self.crm.faults.fail(operation, _error_for(fault), times=fault.times)

    @property
    def requests(self) -> int:
        return self.crm.total_calls

    def now(self) -> dt.datetime:
        return self.crm.clock.now()

    def seed_deals(self, count: int) -> list[str]:
        first = PIPELINE.stages[0].id
        deals = [
            self.crm.seed(title=f"Сделка {n}", pipeline_id=PIPELINE.id, stage_id=first, amount=None)
            for n in range(count)
        ]
        return [d.id for d in deals]

    def crm_with_bad_credentials(self) -> MemoryCrm:
        return _account(self.crm.clock, BAD_TOKEN)


def _error_for(fault: Fault) -> CrmError:
    """What an adapter raises for this HTTP fault."""
    if fault.kind is FaultKind.SERVER_ERROR and fault.status == 429:
        return RateLimited("429 Too Many Requests", retry_after=1.0, system=SYSTEM)
    if fault.kind is FaultKind.SERVER_ERROR:
        return TransientError(f"server error {fault.status}", system=SYSTEM)
    return TransientError("no answer from the CRM", system=SYSTEM)


@contextmanager
def memory_backend() -> Iterator[MemoryBackend]:
    crm = _account(ManualClock(dt.datetime.now(dt.UTC)), TOKEN)
    try:
        yield MemoryBackend(crm)
    finally:
        crm.close()
