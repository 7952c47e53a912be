"""A partner's ``leads:`` in mapping.yaml: offline checks and resolution, each problem at
its line, and ``bridge check`` saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping, validate_text
from bridge.sandbox.memory import MemoryCrm
from sync.cli.check import run_check
from sync.cli.main import app
from tests.mapping.conftest import ENV_VALUES, EXAMPLE, fixed_env

TEXT = EXAMPLE.read_text(encoding="utf-8")
PIPELINE = "      pipeline: Собственные продажи   # a deal the partner puts in this pipeline …"
STAGE = (
    "      stage: Принимают решение  # … at this stage (or only `stage:` of its partner pipeline,"
)
AGENCY_STAGE = "      agency_stage: Новая       # the stage it starts in"
LEAD_PERCENT = (
    "            percent: 10\n            payer: agency\n            fee_field: UF_CRM_AGENCY_FEE"
)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _errors(text: str) -> list[str]:
    _, problems = validate_text(text, "mapping.yaml", fixed_env())
    return [str(p) for p in problems if not p.warning]


def test_the_example_leads_block_is_valid() -> None:
    spec, problems = validate_text(TEXT, "mapping.yaml", fixed_env())
    assert problems == [] and spec is not None
    leads = spec.partners["alfa"].leads
    assert leads is not None
    assert (leads.pipeline, leads.stage, leads.agency_stage) == (
        "Собственные продажи",
        "Принимают решение",
        "Новая",
    )
    assert leads.rules is not None and [str(r.rate) for r in leads.rules] == ["0.1"]


def test_leads_that_name_no_deals_are_refused_at_the_leads_key() -> None:
    text = TEXT.replace(PIPELINE + "\n", "").replace(STAGE + "\n", "")
    (error,) = _errors(text)
    line = _line_of(text, "    leads:")
    assert error.startswith(f"mapping.yaml:{line}:5 partners.alfa.leads: leads: says nothing")
    assert "'pipeline:'" in error and "'field:'" in error


def test_a_lead_commission_percent_out_of_range_is_refused_at_its_line() -> None:
    text = TEXT.replace(LEAD_PERCENT, LEAD_PERCENT.replace("percent: 10", "percent: 0"))
    line = _line_of(text, "            percent: 0")
    errors = _errors(text)
    assert any(
        e.startswith(f"mapping.yaml:{line}:")
        and "partners.alfa.leads.commission.rules[0].percent" in e
        for e in errors
    ), errors


def test_an_unknown_key_and_a_missing_agency_stage_are_located() -> None:
    text = TEXT.replace(AGENCY_STAGE, "      agency_stag: Новая")
    errors = _errors(text)
    line = _line_of(text, "agency_stag:")
    assert any(f"mapping.yaml:{line}:" in e and "agency_stag" in e for e in errors), errors
    assert any("agency_stage" in e for e in errors), errors


@pytest.mark.parametrize(
    ("old", "new", "path", "says"),
    [
        (
            STAGE,
            "      stage: Думают",
            "partners.alfa.leads.stage",
            "stage 'Думают' does not exist",
        ),
        (
            PIPELINE,
            "      pipeline: Для агентства",
            "partners.alfa.leads.pipeline",
            "pipeline 'Для агентства' does not exist",
        ),
        (
            AGENCY_STAGE,
            "      agency_stage: Входящие",
            "partners.alfa.leads.agency_stage",
            "stage 'Входящие' does not exist",
        ),
        (
            "      agency_pipeline: Партнёрские сделки",
            "      agency_pipeline: Продажи",
            "partners.alfa.leads.agency_pipeline",
            "is not the pipeline the bridge mirrors",
        ),
        (
            STAGE,
            STAGE + "\n      field: Передать агентству",
            "partners.alfa.leads.field",
            "field 'Передать агентству' does not exist",
        ),
    ],
)
def test_names_that_do_not_resolve_are_reported_at_their_line(
    crms: dict[str, MemoryCrm], tmp_path: Path, old: str, new: str, path: str, says: str
) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new)
    target = tmp_path / "mapping.yaml"
    target.write_text(text, encoding="utf-8")
    report = resolve(load_mapping(target, fixed_env()), crms)
    (problem,) = [p for p in report.problems if p.path == path]
    assert says in problem.message
    assert problem.line == _line_of(text, new.strip().splitlines()[-1].strip())
    assert report.compiled is not None and report.compiled.partners["alfa"].leads is None


def test_bridge_check_reports_a_leads_problem_with_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    text = TEXT.replace(AGENCY_STAGE, "      agency_stage: [Новая]")
    target = tmp_path / "mapping.yaml"
    target.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert result.exit_code == 1
    line = _line_of(text, "agency_stage: [Новая]")
    assert f"{target}:{line}:" in result.output
    assert "partners.alfa.leads.agency_stage" in result.output


def test_bridge_check_summary_names_the_partners_passing_leads(
    crms: dict[str, MemoryCrm], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Offline the line says whose rules apply; online it shows the lead commission resolved."""
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    target = tmp_path / "mapping.yaml"
    target.write_text(TEXT, encoding="utf-8")
    where = (
        "leads: alfa · Веб-Студия Альфа: deals in 'Собственные продажи' at 'Принимают решение'"
        " → agency deals in 'Партнёрские сделки' at 'Новая'; commission: "
    )
    offline = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert offline.exit_code == 0, offline.output
    assert where + "own lead rules" in offline.output.splitlines()
    assert "leads: beta" not in offline.output

    console = Console(record=True, width=400)
    run_check(target, console=console, opener=lambda label, _: crms[label])
    online = console.export_text().splitlines()
    assert [line for line in online if line.startswith("leads:")] == [
        where + "percent_of_fee 10 % (agency pays)"
    ]


def test_bridge_check_summary_says_when_no_partner_passes_leads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    start = TEXT.index("    leads:")
    end = TEXT.index("\n  beta:")
    target = tmp_path / "mapping.yaml"
    target.write_text(TEXT[:start] + TEXT[end + 1 :], encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert result.exit_code == 0, result.output
    assert "leads: no partner passes leads (no 'leads:' in the mapping)" in result.output
