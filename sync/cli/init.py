"""``bridge init``: read the live CRMs named by environment variables, write starter files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bridge.crm import CrmError
from bridge.mapping.compiled import Connection, CrmKind
from bridge.mapping.connect import Opener, open_crm
from bridge.mapping.env import Environment
from bridge.mapping.starter import (
    Catalog,
    PartnerSeed,
    env_names,
    starter_env,
    starter_variables,
    starter_yaml,
)
from bridge.secrets import Secret


class InitFailed(Exception):
    """Something needed to write the starter files is missing; the message says what."""


def parse_partner(text: str) -> tuple[str, CrmKind]:
    """``alfa:amocrm`` → (``alfa``, amoCRM)."""
    code, _, kind = text.partition(":")
    try:
        return code.strip(), CrmKind(kind.strip())
    except ValueError:
        raise InitFailed(f"--partner {text!r}: write CODE:amocrm or CODE:bitrix24") from None


def _connection(kind: CrmKind, names: dict[str, str], env: Environment) -> Connection:
    values = {key: env.get(name) for key, name in names.items()}
    missing = [names[k] for k, v in values.items() if not v]
    if missing:
        raise InitFailed(f"set {', '.join(missing)} (looked in {env.searched()})")
    token = values.get("token")
    return Connection(kind, Secret(values["url"] or ""), token=Secret(token) if token else None)


def _catalog(label: str, connection: Connection, opener: Opener) -> Catalog:
    crm = opener(label, connection)
    try:
        return Catalog(tuple(crm.pipelines()), tuple(crm.custom_fields()))
    except CrmError as exc:
        raise InitFailed(f"{label}: cannot read the CRM: {exc}") from None
    finally:
        crm.close()


def run_init(
    output: Path,
    partners: Sequence[str],
    *,
    webhook_env: str = "AGENCY_B24_WEBHOOK",
    force: bool = False,
    opener: Opener = open_crm,
    env: Environment | None = None,
    console: Console | None = None,
) -> int:
    console = console or Console()
    env = env or Environment.for_mapping(output)
    env_example = output.parent / ".env.example"
    try:
        if output.exists() and not force:
            raise InitFailed(f"{output} exists — pass --force to overwrite it")
        wanted = [parse_partner(p) for p in partners]  # a typo is refused before any call
        agency_conn = _connection(CrmKind.BITRIX24, {"url": webhook_env}, env)
        agency = _catalog("agency", agency_conn, opener)
        seeds = []
        for code, kind in wanted:
            conn = _connection(kind, env_names(code, kind), env)
            seeds.append(PartnerSeed(code, kind, _catalog(code, conn, opener)))
    except InitFailed as exc:
        console.print(f"bridge init: {exc}", markup=False)
        return 1
    try:
        output.write_text(starter_yaml(agency, seeds, webhook_env), encoding="utf-8")
        console.print(f"wrote {output}", markup=False)
        if env_example.exists() and not force:
            missing = ", ".join(starter_variables(seeds, webhook_env))
            console.print(
                f"kept {env_example} (it exists; --force replaces it) — it needs: {missing}",
                markup=False,
            )
        else:
            env_example.write_text(starter_env(seeds, webhook_env), encoding="utf-8")
            console.print(f"wrote {env_example}", markup=False)
    except OSError as exc:
        console.print(f"bridge init: cannot write {exc.filename}: {exc.strerror}", markup=False)
        return 1
    console.print("review every '# check' and '# choose', then run bridge check", markup=False)
    return 0
