"""The contract suite's amoCRM backend: ``AmoCrm`` over HTTP against a real ``AmoSandbox``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.crm import Crm
from bridge.model import FieldDef, Pipeline
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.emulator import Fault
from bridge.secrets import Secret

PIPELINE = "Партнёрские лиды"
TEXT_FIELD = "Бриф"
BAD_TOKEN = "amocrm-contract-rejected-token-3f9a1c"


def fast_pacer() -> Pacer:
    # The sandbox runs without its rate limit here; pacing has its own tests.
    return Pacer(rate=10_000, burst=10_000)


def adapter(sandbox: AmoSandbox, token: str) -> AmoCrm:
    return AmoCrm(
        sandbox.base_url,
        LongLivedToken(Secret(token)),
        system="amocrm:partner",
        pacer=fast_pacer(),
        timeout=5,
        retry_wait=0.01,
    )


@dataclass
class AmoBackend:
    sandbox: AmoSandbox
    crm: AmoCrm
    pipeline: Pipeline
    text_field: FieldDef
    name: str = "amocrm"
    currency: str = "RUB"
    secrets: tuple[str, ...] = field(default_factory=tuple)

    def user_edit_title(self, deal_id: str, title: str) -> None:
        self.sandbox.update_lead(int(deal_id), {"name": title})

    def user_delete(self, deal_id: str) -> None:
        self.sandbox.delete_lead(int(deal_id))

    def advance_clock(self, seconds: float) -> None:
        self.sandbox.clock.advance(seconds)

    def arm_fault(self, fault: Fault) -> None:
        self.sandbox.server.faults.arm(fault)

    @property
    def requests(self) -> int:
        return self.sandbox.server.calls.requests

    def now(self) -> dt.datetime:
        return self.sandbox.clock.now()

    def seed_deals(self, count: int) -> list[str]:
        ids = self.sandbox.seed_leads(count, pipeline_id=int(self.pipeline.id))
        return [str(i) for i in ids]

    def crm_with_bad_credentials(self) -> Crm:
        return adapter(self.sandbox, BAD_TOKEN)


@contextmanager
def amocrm_backend() -> Iterator[AmoBackend]:
    with AmoSandbox(seed="demo", rate_limit=None) as sandbox:
        token = str(sandbox.long_lived_token)
        crm = adapter(sandbox, token)
        try:
            pipeline = next(p for p in crm.pipelines() if p.name == PIPELINE)
            text_field = next(f for f in crm.custom_fields() if f.name == TEXT_FIELD)
            yield AmoBackend(
                sandbox,
                crm,
                pipeline,
                text_field,
                secrets=(token, BAD_TOKEN, sandbox.client_secret),
            )
        finally:
            crm.close()
