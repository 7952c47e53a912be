"""The built-in sandbox world: an agency Bitrix24 and two partner CRMs, wired to a daemon.

``bridge demo`` and the daemon's tests both need the same thing: three
sandboxes seeded like a real agency and its partners, the repository's example
``mapping.yaml`` with a ``.env`` that points it at them, and each sandbox
delivering its webhooks to the daemon's HTTP app. Nothing here is a fake: the
daemon talks to the sandboxes over real HTTP with the real adapters.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bridge.config import Settings
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.secrets import Secret

EXAMPLE_MAPPING = Path(__file__).resolve().parents[2] / "mapping.yaml"
AGENCY_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")
AMO_HOOK_SETTINGS = ["add_lead", "update_lead", "status_lead", "delete_lead", "note_lead"]


@dataclass
class SandboxWorld:
    agency: BitrixSandbox
    alfa: AmoSandbox
    beta: BitrixSandbox
    directory: Path
    env: dict[str, str]

    @property
    def mapping_path(self) -> Path:
        return self.directory / "mapping.yaml"

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
            self.beta.register_event_handler(event, f"{bridge_url}/hooks/bitrix24/beta")
        secret = self.env["ALFA_AMO_HOOK_SECRET"]
        self.alfa.webhooks.subscribe(f"{bridge_url}/hooks/amocrm/alfa/{secret}", AMO_HOOK_SETTINGS)


def _with_hook_credentials(text: str) -> str:
    """The example mapping plus the two webhook credentials the sandboxes need."""
    alfa = "      token: ${ALFA_AMO_TOKEN}"
    beta = "      url: ${BETA_B24_WEBHOOK}"
    if "webhook_secret:" not in text and alfa in text:
        text = text.replace(alfa, f"{alfa}\n      webhook_secret: ${{ALFA_AMO_HOOK_SECRET}}", 1)
    if "${BETA_B24_APP_TOKEN}" not in text and beta in text:
        text = text.replace(beta, f"{beta}\n      application_token: ${{BETA_B24_APP_TOKEN}}", 1)
    return text


@contextmanager
def sandbox_world(
    directory: Path,
    *,
    mapping_text: str | None = None,
    real_limits: bool = False,
    latency: float = 0.0,
) -> Iterator[SandboxWorld]:
    """Start the three sandboxes and write ``mapping.yaml`` + ``.env`` into ``directory``."""
    plan = "standard" if real_limits else "enterprise"
    with ExitStack() as stack:
        agency = stack.enter_context(
            BitrixSandbox(
                seed="demo",
                secret=_token(),
                application_token=_token(),
                plan=plan,
                rate_limit=real_limits,
            )
        )
        alfa = stack.enter_context(
            AmoSandbox(seed="demo", subdomain="alfa", rate_limit=7.0 if real_limits else None)
        )
        beta = stack.enter_context(
            BitrixSandbox(
                seed="partner",
                secret=_token(),
                application_token=_token(),
                plan=plan,
                rate_limit=real_limits,
            )
        )
        for box in (agency, alfa, beta):
            box.server.latency = latency
        env = {
            "AGENCY_B24_WEBHOOK": agency.webhook_url,
            "AGENCY_B24_APP_TOKEN": agency.application_token,
            "ALFA_AMO_URL": alfa.base_url,
            "ALFA_AMO_TOKEN": alfa.long_lived_token,
            "ALFA_AMO_HOOK_SECRET": _token(),
            "BETA_B24_WEBHOOK": beta.webhook_url,
            "BETA_B24_APP_TOKEN": beta.application_token,
        }
        directory.mkdir(parents=True, exist_ok=True)
        text = mapping_text if mapping_text is not None else EXAMPLE_MAPPING.read_text("utf-8")
        (directory / "mapping.yaml").write_text(_with_hook_credentials(text), "utf-8")
        (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), "utf-8")
        yield SandboxWorld(agency, alfa, beta, directory, env)


def _token() -> str:
    return secrets.token_urlsafe(24)
