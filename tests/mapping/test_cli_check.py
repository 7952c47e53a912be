"""``bridge check --offline`` through the real command line (typer app, exit codes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.main import app
from tests.mapping.conftest import ENV_VALUES, EXAMPLE

BROKEN = Path(__file__).parent / "broken"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)


def test_example_passes_offline(env: None, tmp_path: Path) -> None:
    target = tmp_path / "mapping.yaml"
    shutil.copy(EXAMPLE, target)
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert result.exit_code == 0, result.output
    assert "valid (2 partners; offline check)" in result.output


def test_broken_file_exits_1_with_located_problem(env: None, tmp_path: Path) -> None:
    target = tmp_path / "mapping.yaml"
    shutil.copy(BROKEN / "both_without_owner.yaml", target)
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert result.exit_code == 1
    first_line = result.output.splitlines()[0]
    assert first_line.startswith(f"{target}:18:18 defaults.fields.amount.direction: direction")


def test_missing_variables_are_reported_even_when_the_shape_is_wrong(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ENV_VALUES:
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "mapping.yaml"
    shutil.copy(BROKEN / "yes_no_boolean.yaml", target)
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(target)])
    assert result.exit_code == 1
    assert "5 problem(s)" in result.output
    assert "environment variable ALFA_AMO_TOKEN is not set" in result.output


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--offline", "-m", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output
