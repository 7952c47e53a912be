"""The contract-suite backend for Bitrix24: ``BitrixCrm`` against a ``BitrixSandbox``.

The sandbox runs the demo seed over real HTTP on 127.0.0.1 with enterprise-plan
limits and a matching pacer, so the suite is quick; real limits are exercised in
``tests/integration/test_bitrix_adapter.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bridge.bitrix.client import BitrixCrm
from bridge.bitrix.transport import pacer_for
from bridge.model import FieldDef, FieldKind, Pipeline
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.emulator import Fault
from bridge.secrets import Secret

SECRET = "contract-webhook-s3cret"
BAD_SECRET = "contract-wrong-s3cret"
PIPELINE_ID = "1"


@dataclass
class BitrixBackend:
    sandbox: BitrixSandbox
    crm: BitrixCrm
    pipeline: Pipeline
    name: str = "bitrix24"
    currency: str = "RUB"
    text_field: FieldDef = field(
        default_factory=lambda: FieldDef("UF_CRM_BRIEF", "Бриф", FieldKind.STRING)
    )
    secrets: tuple[str, ...] = (SECRET, BAD_SECRET)

    def user_edit_title(self, deal_id: str, title: str) -> None:
        self.sandbox.update_deal(deal_id, {"TITLE": title})

    def user_delete(self, deal_id: str) -> None:
        self.sandbox.delete_deal(deal_id)

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
        return self.sandbox.seed_deals(count, category_id=int(PIPELINE_ID))

    def crm_with_bad_credentials(self) -> BitrixCrm:
        url = self.sandbox.webhook_url.replace(SECRET, BAD_SECRET)
        return _crm(url)


def _crm(url: str) -> BitrixCrm:
    # Enterprise plan limits (250 burst, 5 per second) keep the suite quick.
    return BitrixCrm(Secret(url), system="bitrix24:contract", pacer=pacer_for("enterprise"))


@contextmanager
def bitrix24_backend() -> Iterator[BitrixBackend]:
    with BitrixSandbox(seed="demo", plan="enterprise", secret=SECRET) as sandbox:
        crm = _crm(sandbox.webhook_url)
        try:
            pipeline = next(p for p in crm.pipelines() if p.id == PIPELINE_ID)
            yield BitrixBackend(sandbox, crm, pipeline)
        finally:
            crm.close()
