"""``bridge init`` output is valid, and resolves against the CRMs it was read from."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.mapping.connect import Opener
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.sandbox.memory import MemoryCrm
from sync.cli.init import run_init
from tests.mapping.conftest import ENV_VALUES


def _opener(crms: dict[str, MemoryCrm]) -> Opener:
    def open_fake(label: str, connection: Connection) -> Crm:
        return crms[label]

    return open_fake


def test_init_writes_a_mapping_that_checks_clean(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    env = Environment(dict(ENV_VALUES), {}, tmp_path / ".env")
    output = tmp_path / "mapping.yaml"
    console = Console(record=True, width=200)
    code = run_init(
        output, ["alfa:amocrm", "beta:bitrix24"], opener=_opener(crms), env=env, console=console
    )
    assert code == 0, console.export_text()
    text = output.read_text(encoding="utf-8")
    assert '"Сделка успешна": "Успешно реализовано"  # won' in text
    assert "routing_field: UF_CRM_PARTNER" in text
    assert (tmp_path / ".env.example").read_text().splitlines()[2:] == [
        "AGENCY_B24_WEBHOOK=",
        "AGENCY_B24_APP_TOKEN=",
        "ALFA_AMO_URL=",
        "ALFA_AMO_TOKEN=",
        "ALFA_AMO_HOOK_SECRET=",
        "BETA_B24_WEBHOOK=",
        "BETA_B24_APP_TOKEN=",
    ]
    # Names come from the routing options by name, never by position ('Атвинта' is first).
    assert 'name: "Веб-Студия Альфа"  # check: the routing option matched by name' in text
    assert 'name: "Digital Бета"' in text and 'Атвинта"' not in text
    for line in ("application_token: ${AGENCY_B24_APP_TOKEN}",
                 "webhook_secret: ${ALFA_AMO_HOOK_SECRET}",
                 "application_token: ${BETA_B24_APP_TOKEN}"):  # fmt: skip
        assert line in text
    said = console.export_text()
    assert f"wrote {output}" in said and f"wrote {tmp_path / '.env.example'}" in said
    report = resolve(load_mapping(output, env), crms)
    assert report.problems == ()


def test_init_names_missing_variables_and_refuses_to_overwrite(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    env = Environment({"AGENCY_B24_WEBHOOK": "http://127.0.0.1:9/rest/1/x/"}, {}, tmp_path / ".env")
    console = Console(record=True, width=200)
    output = tmp_path / "mapping.yaml"
    assert run_init(output, ["alfa:amocrm"], opener=_opener(crms), env=env, console=console) == 1
    assert "set ALFA_AMO_URL, ALFA_AMO_TOKEN" in console.export_text()
    output.write_text("keep me")
    assert run_init(output, [], opener=_opener(crms), env=env, console=console) == 1
    assert output.read_text() == "keep me"


def test_init_leaves_unmatched_partners_to_choose_and_never_overwrites(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    values = dict(ENV_VALUES) | {"GAMMA_AMO_URL": "http://127.0.0.1:9", "GAMMA_AMO_TOKEN": "t"}
    env = Environment(values, {}, tmp_path / ".env")
    crms = {**crms, "gamma": crms["alfa"]}
    tracked = tmp_path / ".env.example"
    tracked.write_text("# the project's own example, 29 lines\n")
    output = tmp_path / "other.yaml"
    console = Console(record=True, width=300)
    assert run_init(output, ["gamma:amocrm"], opener=_opener(crms), env=env, console=console) == 0
    assert tracked.read_text() == "# the project's own example, 29 lines\n"
    said = console.export_text()
    assert f"wrote {output}" in said and f"kept {tracked}" in said
    assert "GAMMA_AMO_HOOK_SECRET" in said
    text = output.read_text(encoding="utf-8")
    assert 'name: "gamma"  # choose: the routing option naming it — Атвинта, ' in text

    assert run_init(output, ["gamma:amocrm"], opener=_opener(crms), env=env, console=console) == 1
    assert "pass --force" in console.export_text()
    forced = run_init(
        output, ["gamma:amocrm"], opener=_opener(crms), env=env, console=console, force=True
    )
    assert forced == 0 and "GAMMA_AMO_URL=" in tracked.read_text()
