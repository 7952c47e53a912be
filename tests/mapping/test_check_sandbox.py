"""``bridge check`` over HTTP against the sandboxes seeded like a real agency and partners."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.amocrm.seed import PARTNER_PIPELINE
from bridge.sandbox.bitrix.portal import BitrixSandbox
from sync.cli.check import run_check
from sync.cli.init import run_init
from tests.mapping.conftest import EXAMPLE


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[BitrixSandbox, AmoSandbox, BitrixSandbox]]:
    with (
        BitrixSandbox(seed="demo", secret="agency-secret") as agency,
        AmoSandbox(seed="demo", subdomain="alfa", rate_limit=None) as amo,
        BitrixSandbox(seed="partner", secret="beta-secret") as beta,
    ):
        yield agency, amo, beta


@pytest.fixture
def mapping_file(
    sandboxes: tuple[BitrixSandbox, AmoSandbox, BitrixSandbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    agency, amo, beta = sandboxes
    monkeypatch.setenv("AGENCY_B24_WEBHOOK", agency.webhook_url)
    monkeypatch.setenv("AGENCY_B24_APP_TOKEN", agency.application_token)
    monkeypatch.setenv("ALFA_AMO_URL", amo.base_url)
    monkeypatch.setenv("ALFA_AMO_TOKEN", amo.long_lived_token)
    monkeypatch.setenv("BETA_B24_WEBHOOK", beta.webhook_url)
    monkeypatch.setenv("BETA_B24_APP_TOKEN", beta.application_token)
    monkeypatch.setenv("ALFA_AMO_HOOK_SECRET", "alfa-hook-path-secret-for-tests")
    target = tmp_path / "mapping.yaml"
    shutil.copy(EXAMPLE, target)
    return target


def _run(path: Path, *, fix: bool = False) -> tuple[int, str]:
    console = Console(record=True, width=250, color_system=None)
    code = run_check(path, console=console, fix=fix)
    return code, console.export_text()


def test_example_mapping_resolves_against_the_sandboxes(mapping_file: Path) -> None:
    code, output = _run(mapping_file, fix=True)
    assert code == 0, output
    assert "alfa · Веб-Студия Альфа" in output
    assert "beta · Digital Бета" in output
    assert "Партнёрские лиды" in output and "Лиды от агентства" in output
    assert "OK — every name resolved" in output


def test_deleted_stage_is_named_with_the_closest_existing_one(
    sandboxes: tuple[BitrixSandbox, AmoSandbox, BitrixSandbox], mapping_file: Path
) -> None:
    _, amo, _ = sandboxes
    pipeline = amo.pipeline_id(PARTNER_PIPELINE)
    status = amo.status_id(pipeline, "Квалификация")
    amo.delete_status(pipeline, status)
    replacement = amo.add_status(pipeline, "Квалификация лида")
    try:
        code, output = _run(mapping_file)
    finally:
        amo.rename_status(pipeline, replacement, "Квалификация")  # restore for other tests
    assert code == 1
    assert (
        "partners.alfa.stages.map.В работе у партнёра[0]: partner stage 'Квалификация' does not "
        "exist — existing, closest first: 'Квалификация лида'"
    ) in output
    assert "beta · Digital Бета" in output  # the other partner still resolves


def test_init_reads_the_sandboxes_and_its_output_checks_clean(
    sandboxes: tuple[BitrixSandbox, AmoSandbox, BitrixSandbox], mapping_file: Path
) -> None:
    output = mapping_file.parent / "starter.yaml"
    console = Console(record=True, width=250, color_system=None)
    code = run_init(output, ["alfa:amocrm", "beta:bitrix24"], console=console)
    assert code == 0, console.export_text()
    text = output.read_text(encoding="utf-8")
    assert '"Сделка успешна": "Успешно реализовано"  # won' in text
    assert '"Сделка провалена": "Провал"  # lost' in text
    code, report = _run(output)
    assert code == 0, report


def test_oauth_partner_is_opened_with_the_stored_tokens(
    sandboxes: tuple[BitrixSandbox, AmoSandbox, BitrixSandbox], tmp_path: Path
) -> None:
    from bridge.amocrm.oauth import SqlTokenStore, StoredTokens
    from bridge.mapping.compiled import Connection, CrmKind
    from bridge.mapping.connect import open_crm
    from bridge.secrets import Secret
    from bridge.store.db import make_engine, migrate

    _, amo, _ = sandboxes
    db_url = f"sqlite:///{tmp_path / 'bridge.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    access, refresh = amo.issue_tokens()
    now = dt.datetime.now(dt.UTC)
    tokens = StoredTokens(Secret(access), Secret(refresh), now + dt.timedelta(hours=1), now)
    SqlTokenStore(engine, "alfa").save(tokens)
    connection = Connection(
        CrmKind.AMOCRM,
        Secret(amo.base_url),
        client_id=amo.client_id,
        client_secret=Secret(amo.client_secret),
        redirect_uri="http://127.0.0.1/cb",
    )
    crm = open_crm("alfa", connection, db_url=db_url)
    try:
        assert PARTNER_PIPELINE in [p.name for p in crm.pipelines()]
    finally:
        crm.close()
        engine.dispose()
