"""The engine over real HTTP: agency Bitrix24, partner amoCRM ``alfa``, partner Bitrix24 ``beta``.

The repository's example ``mapping.yaml`` is resolved against three sandboxes
seeded like a real agency and its partners, and the real adapters talk to
them over sockets on 127.0.0.1. ``fast=True`` lifts the rate limits (tests);
``fast=False`` keeps the real ones (benchmarks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.bitrix.client import BitrixCrm
from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping, Connection, CrmKind
from bridge.mapping.connect import open_all
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.store.db import Store
from sync.engine import Engine

EXAMPLE = Path(__file__).resolve().parents[2] / "mapping.yaml"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class HttpWorld:
    agency_box: BitrixSandbox
    alfa_box: AmoSandbox
    beta_box: BitrixSandbox
    crms: dict[str, Crm]
    mapping: CompiledMapping
    store: Store

    def engine(self, **kwargs: object) -> Engine:
        partners = {c: self.crms[c] for c in self.mapping.partners}
        return Engine(
            self.store,
            self.mapping,
            self.crms["agency"],
            partners,
            clock=utcnow,
            **kwargs,  # type: ignore[arg-type]
        )

    def tick(self, seconds: float) -> None:
        """Move every sandbox's clock (time passing between polls)."""
        for box in (self.agency_box, self.alfa_box, self.beta_box):
            box.clock.advance(seconds)

    def env_values(self) -> dict[str, str]:
        return example_env(self.agency_box, self.alfa_box, self.beta_box)

    def requests(self) -> dict[str, int]:
        return {
            "agency": self.agency_box.server.calls.requests,
            "alfa": self.alfa_box.server.calls.requests,
            "beta": self.beta_box.server.calls.requests,
        }

    def routing(self, code: str) -> str:
        return self.mapping.partners[code].routing_value

    def stage(self, name: str) -> str:
        pipeline = self.mapping.agency.pipeline_id
        with self.agency_box.portal.lock:
            stages = self.agency_box.portal.pipelines.of_category(int(pipeline))
        return next(str(s["STATUS_ID"]) for s in stages if s["NAME"] == name)

    def add_agency_deals(self, count: int, partners: tuple[str, ...]) -> list[str]:
        """Deals in the partner pipeline with a client contact, routed round-robin."""
        box, ids = self.agency_box, []
        first_stage = self.stage("Передана партнёру")
        for n in range(count):
            code = partners[n % len(partners)]
            with box.portal.lock:
                contact = box.portal.contacts.add(
                    {
                        "NAME": f"Клиент {n}",
                        "LAST_NAME": "Тестовый",
                        "PHONE": [{"VALUE": f"+7 900 {n:07d}", "VALUE_TYPE": "WORK"}],
                        "EMAIL": [{"VALUE": f"client{n}@example.ru", "VALUE_TYPE": "WORK"}],
                    },
                    user_id=1,
                )
            fields = {
                "TITLE": f"Проект №{n}",
                "CATEGORY_ID": int(self.mapping.agency.pipeline_id),
                "STAGE_ID": first_stage,
                "OPPORTUNITY": str(Decimal(100_000 + n)),
                "CURRENCY_ID": "RUB",
                "CONTACT_ID": contact,
                "UF_CRM_PARTNER": [self.routing(code)],
            }
            ids.append(box.add_deal(fields))
        return ids


def example_env(agency: BitrixSandbox, alfa: AmoSandbox, beta: BitrixSandbox) -> dict[str, str]:
    """The variables the example mapping.yaml refers to, pointing at these sandboxes."""
    return {
        "AGENCY_B24_WEBHOOK": agency.webhook_url,
        "AGENCY_B24_APP_TOKEN": agency.application_token,
        "ALFA_AMO_URL": alfa.base_url,
        "ALFA_AMO_TOKEN": alfa.long_lived_token,
        "BETA_B24_WEBHOOK": beta.webhook_url,
        "BETA_B24_APP_TOKEN": beta.application_token,
        "ALFA_AMO_HOOK_SECRET": "alfa-hook-path-secret-for-tests",
    }


def _opener(fast: bool):  # type: ignore[no-untyped-def]
    def open_crm(label: str, connection: Connection) -> Crm:
        if connection.kind is CrmKind.BITRIX24:
            pacer = Pacer(rate=1000.0, burst=1000) if fast else None
            return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
        assert connection.token is not None
        return AmoCrm(
            connection.url.reveal(),
            LongLivedToken(connection.token),
            system=f"amocrm:{label}",
            pacer=Pacer(rate=10_000, burst=10_000) if fast else None,
            retry_wait=0.01 if fast else 0.5,
        )

    return open_crm


@contextmanager
def http_world(db_url: str, *, fast: bool = True) -> Iterator[HttpWorld]:
    plan = "enterprise" if fast else "standard"
    with ExitStack() as stack:
        agency = stack.enter_context(
            BitrixSandbox(seed="demo", secret="agency-secret", plan=plan, rate_limit=not fast)
        )
        alfa = stack.enter_context(
            AmoSandbox(seed="demo", subdomain="alfa", rate_limit=None if fast else 7.0)
        )
        beta = stack.enter_context(
            BitrixSandbox(seed="partner", secret="beta-secret", plan=plan, rate_limit=not fast)
        )
        env = Environment(process=example_env(agency, alfa, beta))
        spec = load_mapping(EXAMPLE, env)
        crms, failed = open_all(spec, _opener(fast))
        assert not failed, failed
        for crm in crms.values():
            stack.callback(crm.close)
        report = resolve(spec, crms, fix=True)
        assert report.compiled is not None, report.problems
        store = Store.open(db_url)
        stack.callback(store.close)
        yield HttpWorld(agency, alfa, beta, crms, report.compiled, store)
