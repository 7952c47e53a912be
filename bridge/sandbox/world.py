"""The one builder of a sandbox world: agency Bitrix24, partners, ``mapping.yaml``, ``.env``.

``bridge demo``, the engine, daemon and reliability tests, and the benchmarks all
need the same thing: sandboxes seeded like a real agency and its partners, a
``mapping.yaml`` with a ``.env`` that points it at them, and (for a daemon) each
sandbox delivering its webhooks to the daemon's HTTP app. Nothing here is a fake:
the bridge talks to the sandboxes over real HTTP with the real adapters.

Two shapes, one builder:

* ``partners=None`` — the repository's example ``mapping.yaml`` with its two
  partners, ``alfa`` (amoCRM) and ``beta`` (Bitrix24);
* ``partners=N`` — a generated mapping with N partners, 60 % of them on amoCRM
  (:mod:`bridge.sandbox.world_mapping`), as the benchmarks use.

``real_limits`` keeps each CRM's real rate limit (standard Bitrix24 plan, 7
requests/s on amoCRM) instead of lifting it; ``latency`` delays every answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge.config import Settings
from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import Opener, open_all
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.sandbox.world_mapping import AMO, B24, mapping_yaml, partner_kinds
from bridge.secrets import Secret

EXAMPLE_MAPPING = Path(__file__).resolve().parents[2] / "mapping.yaml"
EXAMPLE_KINDS = {"alfa": AMO, "beta": B24}
AGENCY_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")
AMO_HOOK_SETTINGS = ["add_lead", "update_lead", "status_lead", "delete_lead", "note_lead"]
FIRST_STAGE = "Передана партнёру"

Sandbox = AmoSandbox | BitrixSandbox


@dataclass
class SandboxWorld:
    agency: BitrixSandbox
    partners: dict[str, Sandbox]
    directory: Path
    env: dict[str, str]
    compiled: CompiledMapping | None = None  # set by resolve()
    deal_ids: list[str] = field(default_factory=list)  # added by add_agency_deals()

    @property
    def kinds(self) -> dict[str, str]:
        """Partner code → ``amocrm`` / ``bitrix24``."""
        return {c: AMO if isinstance(b, AmoSandbox) else B24 for c, b in self.partners.items()}

    @property
    def alfa(self) -> AmoSandbox:
        """The example world's amoCRM partner."""
        box = self.partners["alfa"]
        assert isinstance(box, AmoSandbox)
        return box

    @property
    def beta(self) -> BitrixSandbox:
        """The example world's Bitrix24 partner."""
        box = self.partners["beta"]
        assert isinstance(box, BitrixSandbox)
        return box

    @property
    def mapping_path(self) -> Path:
        return self.directory / "mapping.yaml"

    def boxes(self) -> dict[str, Sandbox]:
        return {"agency": self.agency, **self.partners}

    def settings(self, *, port: int = 0, admin_token: str | None = None) -> Settings:
        return Settings(
            mapping_path=self.mapping_path,
            db_url=f"sqlite:///{self.directory / 'bridge.db'}",
            log_level="INFO",
            log_json=None,
            http_host="127.0.0.1",
            http_port=port,
            public_url=None,
            admin_token=Secret(admin_token) if admin_token else None,
            env_file=self.directory / ".env",
        )

    def connect_webhooks(self, bridge_url: str) -> None:
        """Point every sandbox's outgoing events at the daemon, as an admin would."""
        for event in AGENCY_EVENTS:
            self.agency.register_event_handler(event, f"{bridge_url}/hooks/bitrix24")
        for code, box in self.partners.items():
            if isinstance(box, AmoSandbox):
                secret = self.env[f"{code.upper()}_AMO_HOOK_SECRET"]
                url = f"{bridge_url}/hooks/amocrm/{code}/{secret}"
                box.webhooks.subscribe(url, AMO_HOOK_SETTINGS)
            else:
                for event in AGENCY_EVENTS:
                    box.register_event_handler(event, f"{bridge_url}/hooks/bitrix24/{code}")

    def requests(self) -> dict[str, int]:
        """HTTP requests each account has served so far."""
        return {label: box.server.calls.requests for label, box in self.boxes().items()}

    def advance(self, seconds: float) -> None:
        """Time passes on every account (buckets drain, timestamps move on)."""
        for box in self.boxes().values():
            box.clock.advance(seconds)

    def set_latency(self, seconds: float) -> None:
        for box in self.boxes().values():
            box.server.latency = seconds

    def resolve(self, opener: Opener) -> dict[str, Crm]:
        """Open every CRM with ``opener`` and resolve the mapping once, as ``bridge check --fix``.

        Sets :attr:`compiled`; returns the open CRMs (the caller closes them).
        """
        spec = load_mapping(self.mapping_path, Environment(process=self.env))
        crms, failed = open_all(spec, opener)
        if failed:
            for crm in crms.values():
                crm.close()
            raise RuntimeError(f"cannot open the world's CRMs: {failed}")
        report = resolve(spec, crms, fix=True)
        if report.compiled is None or not report.ok:
            for crm in crms.values():
                crm.close()
            raise RuntimeError(f"the world's mapping does not resolve: {report.problems}")
        self.compiled = report.compiled
        return crms

    def routing(self, code: str) -> str:
        """The agency's routing value for partner ``code`` (after :meth:`resolve`)."""
        return self._compiled().partners[code].routing_value

    def stage(self, name: str) -> str:
        """The id of the agency pipeline's stage called ``name`` (after :meth:`resolve`)."""
        pipeline = int(self._compiled().agency.pipeline_id)
        with self.agency.portal.lock:
            stages = self.agency.portal.pipelines.of_category(pipeline)
        return next(str(s["STATUS_ID"]) for s in stages if s["NAME"] == name)

    def add_agency_deals(self, count: int, partners: Sequence[str] | None = None) -> list[str]:
        """``count`` deals with a client contact each, routed round-robin (a data import).

        Routed to ``partners`` in turn (default: every partner); numbered on from
        the deals added before; no webhook events fire.
        """
        portal, codes = self.agency.portal, list(partners or self.partners)
        stage, category = self.stage(FIRST_STAGE), int(self._compiled().agency.pipeline_id)
        routing = {c: self.routing(c) for c in codes}
        start, ids = len(self.deal_ids), []
        with portal.lock:
            for i, n in enumerate(range(start, start + count)):
                contact = portal.contacts.add(_contact(n), user_id=1)
                fields = _deal(n, category, stage, contact, routing[codes[i % len(codes)]])
                ids.append(str(portal.deals.add(fields, user_id=1).deal_id))
        self.deal_ids.extend(ids)
        return ids

    def _compiled(self) -> CompiledMapping:
        if self.compiled is None:
            raise RuntimeError("resolve() the world's mapping first")
        return self.compiled


@contextmanager
def sandbox_world(
    directory: Path,
    *,
    partners: int | None = None,
    mapping_text: str | None = None,
    real_limits: bool = False,
    latency: float = 0.0,
) -> Iterator[SandboxWorld]:
    """Start the sandboxes and write ``mapping.yaml`` + ``.env`` into ``directory``.

    ``mapping_text`` replaces the example mapping (``partners=None`` only).
    """
    if partners is not None and mapping_text is not None:
        raise ValueError("mapping_text is for the example world; a generated one writes its own")
    kinds = EXAMPLE_KINDS if partners is None else partner_kinds(partners, round(partners * 0.6))
    with ExitStack() as stack:
        agency = stack.enter_context(_bitrix("demo", real_limits))
        boxes = {code: _partner(stack, code, kind, real_limits) for code, kind in kinds.items()}
        if partners is None:
            text = mapping_text if mapping_text is not None else _example_text()
        else:
            _routing_options(agency, kinds)
            text = mapping_yaml(kinds)
        env = _env(agency, boxes)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "mapping.yaml").write_text(_with_hook_credentials(text), "utf-8")
        (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), "utf-8")
        world = SandboxWorld(agency, boxes, directory, env)
        world.set_latency(latency)
        yield world


def _bitrix(seed: str, real_limits: bool) -> BitrixSandbox:
    return BitrixSandbox(
        seed=seed,
        secret=_token(),
        application_token=_token(),
        plan="standard" if real_limits else "enterprise",
        rate_limit=real_limits,
    )


def _partner(stack: ExitStack, code: str, kind: str, real_limits: bool) -> Sandbox:
    if kind == AMO:
        rate = 7.0 if real_limits else None
        return stack.enter_context(AmoSandbox(seed="demo", subdomain=code, rate_limit=rate))
    return stack.enter_context(_bitrix("partner", real_limits))


def _env(agency: BitrixSandbox, partners: dict[str, Sandbox]) -> dict[str, str]:
    """The variables the mapping refers to, named as in the repository's example."""
    env = {
        "AGENCY_B24_WEBHOOK": agency.webhook_url,
        "AGENCY_B24_APP_TOKEN": agency.application_token,
    }
    for code, box in partners.items():
        upper = code.upper()
        if isinstance(box, AmoSandbox):
            env[f"{upper}_AMO_URL"] = box.base_url
            env[f"{upper}_AMO_TOKEN"] = box.long_lived_token
            env[f"{upper}_AMO_HOOK_SECRET"] = _token()
        else:
            env[f"{upper}_B24_WEBHOOK"] = box.webhook_url
            env[f"{upper}_B24_APP_TOKEN"] = box.application_token
    return env


def _example_text() -> str:
    return EXAMPLE_MAPPING.read_text("utf-8")


def _with_hook_credentials(text: str) -> str:
    """The example mapping plus the two webhook credentials the sandboxes need."""
    alfa = "      token: ${ALFA_AMO_TOKEN}"
    beta = "      url: ${BETA_B24_WEBHOOK}"
    if "webhook_secret:" not in text and alfa in text:
        text = text.replace(alfa, f"{alfa}\n      webhook_secret: ${{ALFA_AMO_HOOK_SECRET}}", 1)
    if "${BETA_B24_APP_TOKEN}" not in text and beta in text:
        text = text.replace(beta, f"{beta}\n      application_token: ${{BETA_B24_APP_TOKEN}}", 1)
    return text


def _routing_options(agency: BitrixSandbox, kinds: dict[str, str]) -> None:
    """The agency admin adds one routing option per partner (the demo seed knows only two)."""
    with agency.portal.lock:
        row = agency.portal.userfields.fields["UF_CRM_PARTNER"]
        options = [{"VALUE": f"Партнёр {code}"} for code in kinds]
        agency.portal.userfields.update(int(row["ID"]), {"LIST": options})


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


def _token() -> str:
    return secrets.token_urlsafe(24)
