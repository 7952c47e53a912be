"""Eleven sandbox accounts and a generated mapping.yaml: the agency and ten partners.

The sandboxes live in the benchmark's own process; the bridge runs in a child
process (``benchmarks.bridge_proc``) that only sees the mapping file and the
environment variables written here, exactly like ``bridge run`` would. Each
sandbox is its own account with its own rate limit and request counter.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

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

AMO, B24 = "amocrm", "bitrix24"
AGENCY_TOKEN = "agency-app-token"  # noqa: S105 - a sandbox value
FIRST_STAGE = "Передана партнёру"


def partner_kinds(count: int = 10, amo: int = 6) -> dict[str, str]:
    """Partner codes → kind: ``amo1``… first, then ``btx1``…"""
    kinds = {f"amo{n}": AMO for n in range(1, amo + 1)}
    kinds.update({f"btx{n}": B24 for n in range(1, count - amo + 1)})
    return kinds


def _partner_yaml(code: str, kind: str) -> str:
    upper = code.upper()
    if kind == AMO:
        return f"""
  {code}:
    name: Партнёр {code}
    kind: amocrm
    connection:
      url: ${{{upper}_URL}}
      token: ${{{upper}_TOKEN}}
      webhook_secret: ${{{upper}_HOOK}}
    pipeline: Партнёрские лиды
    stages:
      map:
        Передана партнёру: Новый лид от агентства
        В работе у партнёра: [Квалификация, КП отправлено]
        Договор подписан: Договор
        Сделка успешна: Успешно реализовано
        Сделка провалена: Закрыто и не реализовано
      initial: Новый лид от агентства
"""
    return f"""
  {code}:
    name: Партнёр {code}
    kind: bitrix24
    connection:
      url: ${{{upper}_URL}}
      application_token: ${{{upper}_HOOK}}
    pipeline: Лиды от агентства
    stages:
      unmapped: ignore
      map:
        Передана партнёру: Новый лид
        В работе у партнёра: Квалификация
        Договор подписан: Договор
        Сделка успешна: won
        Сделка провалена: lost
    fields:
      brief:
        partner: UF_CRM_BRIEF
"""


def mapping_yaml(kinds: dict[str, str], poll_interval: int = 60) -> str:
    head = f"""version: 1
agency:
  webhook: ${{AGENCY_URL}}
  application_token: ${{AGENCY_HOOK}}
  pipeline: Партнёрские сделки
  routing_field: UF_CRM_PARTNER
  currency: RUB
defaults:
  unmapped_stages: park
  fields:
    title: {{agency: title, partner: title, direction: to_partner}}
    amount: {{agency: amount, partner: amount, direction: both, owner: partner, converter: money}}
    client_name: {{agency: contact.name, partner: contact.name, direction: to_partner}}
    client_phone: {{agency: contact.phone, partner: contact.phone, direction: to_partner}}
    client_email: {{agency: contact.email, partner: contact.email, direction: to_partner}}
    brief:
      agency: UF_CRM_BRIEF
      partner: Бриф
      direction: to_partner
      default: "Бриф не заполнен"
  policies:
    poll_interval: {poll_interval}s
    mirror_notes: false
    language: ru
partners:"""
    return head + "".join(_partner_yaml(c, k) for c, k in kinds.items())


@dataclass
class World:
    agency: BitrixSandbox
    partners: dict[str, AmoSandbox | BitrixSandbox]
    kinds: dict[str, str]
    env: dict[str, str]
    mapping_path: Path
    compiled: CompiledMapping
    deal_ids: list[str] = field(default_factory=list)

    def boxes(self) -> dict[str, AmoSandbox | BitrixSandbox]:
        return {"agency": self.agency, **self.partners}

    def requests(self) -> dict[str, int]:
        return {label: box.server.calls.requests for label, box in self.boxes().items()}

    def sandbox_seconds(self) -> float:
        """CPU time the sandboxes spent answering (their own overhead, latency excluded)."""
        return sum(_Timed.of(box).seconds for box in self.boxes().values())

    def set_latency(self, seconds: float) -> None:
        for box in self.boxes().values():
            box.server.latency = seconds

    def advance(self, seconds: float) -> None:
        """One poll interval passes on every account (buckets drain, timestamps move on)."""
        for box in self.boxes().values():
            box.clock.advance(seconds)

    def routing(self, code: str) -> str:
        return self.compiled.partners[code].routing_value

    def stage(self, name: str) -> str:
        pipeline = int(self.compiled.agency.pipeline_id)
        with self.agency.portal.lock:
            stages = self.agency.portal.pipelines.of_category(pipeline)
        return next(str(s["STATUS_ID"]) for s in stages if s["NAME"] == name)

    def add_agency_deals(self, count: int) -> list[str]:
        """``count`` deals with a client contact each, routed round-robin (a data import)."""
        portal, codes = self.agency.portal, list(self.kinds)
        stage, category = self.stage(FIRST_STAGE), int(self.compiled.agency.pipeline_id)
        routing = {c: self.routing(c) for c in codes}
        start = len(self.deal_ids)
        ids = []
        with portal.lock:
            for n in range(start, start + count):
                contact = portal.contacts.add(_contact(n), user_id=1)
                fields = _deal(n, category, stage, contact, routing[codes[n % len(codes)]])
                ids.append(str(portal.deals.add(fields, user_id=1).deal_id))
        self.deal_ids.extend(ids)
        return ids


def _contact(n: int) -> dict[str, Any]:
    return {
        "NAME": f"Клиент {n}",
        "LAST_NAME": "Тестовый",
        "PHONE": [{"VALUE": f"+7 900 {n:07d}", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": f"client{n}@example.ru", "VALUE_TYPE": "WORK"}],
    }


def _deal(n: int, category: int, stage: str, contact: int, routing: str) -> dict[str, Any]:
    return {
        "TITLE": f"Проект №{n}",
        "CATEGORY_ID": category,
        "STAGE_ID": stage,
        "OPPORTUNITY": str(Decimal(100_000 + n)),
        "CURRENCY_ID": "RUB",
        "CONTACT_ID": contact,
        "UF_CRM_PARTNER": [routing],
    }


def opener(label: str, connection: Connection) -> Crm:
    """Adapters with their default (real-limit) pacers, as ``bridge run`` opens them."""
    if connection.kind is CrmKind.BITRIX24:
        return BitrixCrm(connection.url, system=f"bitrix24:{label}")
    assert connection.token is not None
    return AmoCrm(
        connection.url.reveal(), LongLivedToken(connection.token), system=f"amocrm:{label}"
    )


def lifted_opener(label: str, connection: Connection) -> Crm:
    """Adapters with the client pacers lifted (the scale run, where limits are off)."""
    if connection.kind is CrmKind.BITRIX24:
        pacer = Pacer(rate=100_000.0, burst=100_000)
        return BitrixCrm(connection.url, system=f"bitrix24:{label}", pacer=pacer)
    assert connection.token is not None
    return AmoCrm(
        connection.url.reveal(),
        LongLivedToken(connection.token),
        system=f"amocrm:{label}",
        pacer=Pacer(rate=100_000, burst=100_000),
    )


def _sandbox(code: str, kind: str, real: bool) -> AmoSandbox | BitrixSandbox:
    if kind == AMO:
        return AmoSandbox(seed="demo", subdomain=code, rate_limit=7.0 if real else None)
    plan = "standard" if real else "enterprise"
    return BitrixSandbox(
        seed="partner",
        secret=f"{code}-secret",
        plan=plan,
        rate_limit=real,
        application_token=f"{code}-app-token",
    )


def _env(agency: BitrixSandbox, partners: dict[str, AmoSandbox | BitrixSandbox]) -> dict[str, str]:
    env = {"AGENCY_URL": agency.webhook_url, "AGENCY_HOOK": AGENCY_TOKEN}
    for code, box in partners.items():
        upper = code.upper()
        if isinstance(box, AmoSandbox):
            env |= {f"{upper}_URL": box.base_url, f"{upper}_TOKEN": box.long_lived_token}
            env[f"{upper}_HOOK"] = f"{code}-hook-secret"
        else:
            env |= {f"{upper}_URL": box.webhook_url, f"{upper}_HOOK": box.application_token}
    return env


@contextmanager
def world(
    directory: Path, *, real_limits: bool = True, latency: float = 0.0, partners: int = 10
) -> Iterator[World]:
    """Start the sandboxes, write mapping.yaml + .env into ``directory``, resolve once (fix)."""
    kinds = partner_kinds(partners, amo=round(partners * 0.6))
    with ExitStack() as stack:
        agency = stack.enter_context(
            BitrixSandbox(
                seed="demo",
                secret="agency-secret",  # noqa: S106 - a sandbox value
                plan="standard" if real_limits else "enterprise",
                rate_limit=real_limits,
                application_token=AGENCY_TOKEN,
            )
        )
        boxes: dict[str, AmoSandbox | BitrixSandbox] = {
            c: stack.enter_context(_sandbox(c, k, real_limits))  # type: ignore[misc]
            for c, k in kinds.items()
        }
        _routing_options(agency, kinds)
        env = _env(agency, boxes)
        path = directory / "mapping.yaml"
        path.write_text(mapping_yaml(kinds), encoding="utf-8")
        compiled = _resolve(path, env, stack)
        w = World(agency, boxes, kinds, env, path, compiled)
        for box in w.boxes().values():
            _Timed.install(box)
        w.set_latency(latency)
        yield w


def _routing_options(agency: BitrixSandbox, kinds: dict[str, str]) -> None:
    """The agency admin adds one routing option per partner (the demo seed knows only two)."""
    with agency.portal.lock:
        row = agency.portal.userfields.fields["UF_CRM_PARTNER"]
        options = [{"VALUE": f"Партнёр {code}"} for code in kinds]
        agency.portal.userfields.update(int(row["ID"]), {"LIST": options})


def _resolve(path: Path, env: dict[str, str], stack: ExitStack) -> CompiledMapping:
    spec = load_mapping(path, Environment(process=env))
    crms, failed = open_all(spec, lifted_opener)
    assert not failed, failed
    for crm in crms.values():
        stack.callback(crm.close)
    report = resolve(spec, crms, fix=True)
    if report.compiled is None or not report.ok:  # compiled can come back with problems
        raise RuntimeError(f"the generated mapping does not resolve: {report.problems}")
    return report.compiled


class _Timed:
    """Wraps one sandbox app's ``handle`` to add up the time it spends per request."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.seconds = 0.0
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        began = time.perf_counter()
        try:
            return self.handle(request)
        finally:
            with self.lock:
                self.seconds += time.perf_counter() - began

    @classmethod
    def install(cls, box: AmoSandbox | BitrixSandbox) -> None:
        box.app.handle = cls(box.app.handle)  # type: ignore[method-assign]

    @classmethod
    def of(cls, box: AmoSandbox | BitrixSandbox) -> _Timed:
        timed = box.app.handle
        assert isinstance(timed, cls)
        return timed


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
