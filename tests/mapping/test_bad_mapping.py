"""mapping.yaml mistakes an admin makes: absurd percentages, alias bombs, silent gaps; --fix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rich.console import Console

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.mapping.connect import Opener
from bridge.mapping.validate import validate_text
from bridge.sandbox.memory import MemoryCrm
from sync.cli.check import run_check
from tests.mapping.conftest import EXAMPLE, fixed_env

TEXT = EXAMPLE.read_text(encoding="utf-8")
DEFAULT_PERCENT = "        percent: 25             # 25 means 25 %"
ALFA_PERCENT = "          percent: 40"


def _problems(text: str) -> list[str]:
    _, problems = validate_text(text, "mapping.yaml", fixed_env())
    return [("warning: " if p.warning else "") + str(p) for p in problems]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


OUT_OF_RANGE = [("250", DEFAULT_PERCENT), ("0", ALFA_PERCENT), ("-5", ALFA_PERCENT),
                ("100.5", ALFA_PERCENT)]  # fmt: skip


@pytest.mark.parametrize(("percent", "where"), OUT_OF_RANGE)
def test_percent_outside_0_to_100_is_refused_with_its_line(percent: str, where: str) -> None:
    assert where in TEXT
    old = where.split("percent: ")[1].split(maxsplit=1)[0]
    text = TEXT.replace(where, where.replace(old, percent))
    line = _line_of(text, f"percent: {percent}")
    problems = _problems(text)
    assert any(f"mapping.yaml:{line}:" in p and f"percent {percent} is out of range" in p
               and not p.startswith("warning") for p in problems), problems  # fmt: skip


def test_percent_above_50_is_a_warning() -> None:
    text = TEXT.replace(ALFA_PERCENT, "          percent: 60")
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None
    (warning,) = [p for p in problems if "more than half" in p.message]
    assert warning.warning and warning.line == _line_of(text, "percent: 60")


def test_an_alias_bomb_is_refused_fast_naming_the_line(tmp_path: Path) -> None:
    lines = ['lol1: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(2, 10):
        prev, name = chr(ord("a") + level - 2), chr(ord("a") + level - 1)
        lines.append(f"lol{level}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "mapping.yaml"
    path.write_text(TEXT + "\n".join(lines) + "\n", encoding="utf-8")
    console = Console(record=True, width=300)
    started = time.monotonic()
    assert run_check(path, offline=True, console=console) == 1
    elapsed = time.monotonic() - started
    out = console.export_text()
    first = out.splitlines()[0]
    bomb_line = _line_of(path.read_text(encoding="utf-8"), "lol5:")
    assert first.startswith(f"{path}:{bomb_line}:"), out
    assert "expand to more than 10000 values" in first
    assert elapsed < 30  # a hang would never return; this only guards against "forever"


def test_a_few_ordinary_aliases_are_still_fine() -> None:
    text = TEXT + "\nx-common: &c {a: 1, b: 2}\n"
    assert not [p for p in _problems(text) if "expand" in p]


def _opener(crms: dict[str, MemoryCrm]) -> Opener:
    def open_fake(label: str, connection: Connection) -> Crm:
        return crms[label]

    return open_fake


def test_check_warns_about_gaps_with_lines_and_fix_says_what_it_created(
    tmp_path: Path, crms: dict[str, MemoryCrm], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fixed_env().process.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "mapping.yaml"
    path.write_text(TEXT, encoding="utf-8")
    console = Console(record=True, width=400)
    run_check(path, fix=True, console=console, opener=_opener(crms))
    out = console.export_text()
    routing = _line_of(TEXT, "routing_field:")
    beta_map = _line_of(TEXT, "Передана партнёру: Новый лид") - 1
    assert f"warning: {path}:{routing}:" in out and "'Атвинта' name no partner" in out
    assert f"warning: {path}:{beta_map}:" in out and "agency stages 'Новая' have no" in out
    assert "partners.alfa: created the bridge's stamp field" in out

    again = Console(record=True, width=400)
    run_check(path, fix=True, console=again, opener=_opener(crms))
    assert "--fix: nothing to create" in again.export_text()


FAN_OUT = "    fan_out:                    # one deal routed to several partners, and re-routing"


def test_a_fan_out_policy_typo_is_refused_with_its_line() -> None:
    assert FAN_OUT in TEXT
    text = TEXT.replace("      on_win: note ", "      on_win: shout")
    problems = _problems(text)
    line = _line_of(text, "on_win: shout")
    assert any(f"mapping.yaml:{line}:" in p and "on_win" in p for p in problems), problems


def test_agency_follows_is_programme_wide() -> None:
    text = TEXT.replace(
        "      status_request_notes: true",
        "      status_request_notes: true\n      fan_out:\n        agency_follows: won_only",
    )
    problems = _problems(text)
    line = _line_of(text, "agency_follows: won_only")
    assert any(f"mapping.yaml:{line}:" in p and "whole programme" in p for p in problems), problems


def test_a_partner_overrides_one_fan_out_key_and_keeps_the_others() -> None:
    text = TEXT.replace(
        "      status_request_notes: true",
        "      status_request_notes: true\n      fan_out:\n        on_reroute: close",
    )
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None, problems
    beta = spec.partners["beta"].policies.fan_out
    alfa = spec.partners["alfa"].policies.fan_out
    assert (beta.on_reroute, beta.on_win, beta.agency_follows) == ("close", "note", "most_advanced")
    assert alfa.on_reroute == "note" and spec.policies.fan_out.agency_follows == "most_advanced"


RATINGS_BY = "    ratings_by: won_amount "


def test_ratings_by_takes_the_kpi_names_of_rank_by() -> None:
    assert RATINGS_BY in TEXT
    spec, _ = validate_text(TEXT, "mapping.yaml", fixed_env())
    assert spec is not None and spec.policies.ratings_by == "won_amount"
    text = TEXT.replace(RATINGS_BY, "    ratings_by: conversion ")
    spec, _ = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None and spec.policies.ratings_by == "conversion"


def test_an_unknown_ratings_kpi_is_refused_with_its_line_and_the_names() -> None:
    text = TEXT.replace(RATINGS_BY, "    ratings_by: wins ")
    line = _line_of(text, "ratings_by: wins")
    (problem,) = [p for p in _problems(text) if "ratings_by" in p]
    assert problem.startswith(f"mapping.yaml:{line}:")
    assert "'wins' is not a KPI to rank by" in problem and "won_amount, " in problem


def test_ratings_by_is_programme_wide() -> None:
    beta_policies = "    policies:\n      status_request_notes: true\n"
    assert TEXT.count(beta_policies) == 1
    text = TEXT.replace(beta_policies, beta_policies + "      ratings_by: won\n")
    problems = [p for p in _problems(text) if "partners.beta.policies.ratings_by" in p]
    assert problems and "applies to the whole programme" in problems[0]
