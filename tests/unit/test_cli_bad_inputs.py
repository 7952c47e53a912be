"""Every ``bridge`` command, fed bad input, answers in a line that names the value — no traceback.

``CASES`` holds at least one bad invocation per command; a test walks the real
command tree, so a new command without a row here fails until it gets one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bridge.store.db import Store
from sync.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9/rest/1/x/"  # the discard port: refused at once

# (command path, extra arguments, text the output must contain)
CASES: list[tuple[str, list[str], str]] = [
    ("run", ["--env-file", "bad.env"], "notaport"),
    ("worker", ["--env-file", "no-such.env"], "no-such.env"),
    ("cabinet link", ["gamma"], "gamma"),
    ("cabinet link", ["alfa", "--days", "0"], "0"),
    ("cabinet revoke", ["gamma"], "gamma"),
    ("worker", ["--env-file", "bad.env"], "notaport"),
    ("version", ["surplus"], "surplus"),
    ("demo", ["--bogus"], "--bogus"),
    ("check", ["-m", "missing.yaml"], "missing.yaml"),
    ("check", ["-m", "bad.yaml", "--offline"], "bogus"),
    ("sync", ["-m", "bad.yaml"], "bogus"),
    ("sync", ["-m", "bad.yaml", "--dry-run"], "bogus"),
    ("sync", ["--partner", "gamma"], "gamma"),
    ("sync", ["-m", "no-such-mapping.yaml"], "no-such-mapping.yaml"),
    ("sync", ["--db-url", "garbage"], "garbage"),
    ("status", ["--db-url", "garbage"], "garbage"),
    ("status", ["--db-url", "postgresql://nobody@127.0.0.1:1/x"], "127.0.0.1:1"),
    ("status", ["--format", "xml"], "xml"),
    ("deal", ["99999"], "99999"),
    ("deal", ["99999", "--format", "json"], "99999"),
    ("parked", ["--db-url", "nope://"], "nope://"),
    ("retry", ["99999"], "99999"),
    ("retry", ["abc"], "abc"),
    ("init", ["-o", "new.yaml", "-p", "alfa:salesforce"], "alfa:salesforce"),
    ("kpi", ["--chart", "missing/dir/k.svg"], "missing/dir/k.svg"),
    ("kpi", ["--period", "2026-13"], "2026-13"),
    ("kpi", ["--lang", "xx"], "xx"),
    ("kpi", ["--rank-by", "fame"], "fame"),
    ("kpi", ["--currency", "rubles"], "rubles"),
    ("kpi", ["--by", "city"], "city"),
    ("digest", ["--manager", "Пётр"], "Пётр"),
    ("ledger fees", ["--date", "4.12.2026"], "4.12.2026"),
    ("ledger fees", ["--partner", "gamma"], "gamma"),
    ("ledger fees", ["-m", "bad.yaml"], "bogus"),
    ("digest", ["--partner", "gamma"], "gamma"),
    ("digest", ["-m", "bad.yaml"], "bogus"),
    ("sandbox bitrix24", ["--plan", "gold"], "gold"),
    ("sandbox amocrm", ["--port", "http"], "http"),
    ("ledger pay", ["gamma", "100", "--payer", "agency"], "gamma"),
    ("ledger pay", ["beta", "-500"], "-500"),
    ("ledger pay", ["alfa", "12.345"], "12.345"),
    ("ledger pay", ["alfa", "100", "--currency", "XYZ"], "XYZ"),
    ("ledger pay", ["alfa", "1e6"], "1e6"),
    ("ledger statement", ["alfa", "--format", "html", "--out", "missing/dir/s.html"], "missing"),
    ("ledger statement", ["alfa", "--period", "soon"], "soon"),
    ("ledger balances", ["--db-url", "garbage"], "garbage"),
    ("ledger example-statement", ["--out", "bad.yaml/inside", "--no-png"], "bad.yaml"),
    ("ledger entries", ["--period", "2026-13"], "2026-13"),
    ("ledger entries", ["--partner", "gamma"], "gamma"),
    ("ledger export", ["--period", "2026", "--format", "xlsx"], "--out"),
    ("ledger export", ["--period", "someday"], "someday"),
    ("ledger void", ["99999", "--reason", "typo"], "99999"),
    ("ledger void", ["0", "--reason", "typo"], "0"),
    ("ledger payouts", ["--date", "2026-02-30"], "2026-02-30"),
    ("ledger payouts", ["--record", "soon"], "soon"),
    ("ledger payouts", ["--record", "20261115-00000000"], "20261115-00000000"),
    ("ledger payouts", ["-m", "bad.yaml"], "bogus"),
    ("ledger payouts", ["--export", "pdf", "r.pdf"], "pdf"),
    ("rates set", ["USD", "XYZ", "92.50"], "'XYZ' is not an ISO 4217 currency code"),
    ("rates set", ["usd", "RUB", "0"], "RATE '0' must be positive"),
    ("rates set", ["USD", "RUB", "-92.50"], "-92.50"),
    ("rates set", ["USD", "RUB", "92.5.0"], "RATE '92.5.0' is not a number"),
    ("rates set", ["USD", "RUB", "92.50", "--date", "2026-13-01"], "--date '2026-13-01'"),
    ("rates set", ["KZT", "KZT", "1"], "both KZT"),
    ("rates list", ["--format", "xml"], "xml"),
    ("rates list", ["--db-url", "garbage"], "garbage"),
    ("channels held", ["--db-url", "garbage"], "garbage"),
    ("channels confirm", ["42", "gamma"], "gamma"),
    ("leads", ["--db-url", "garbage"], "garbage"),
    ("leads release", ["gamma", "77"], "gamma"),
    ("hooks install", ["-m", "bad.yaml", "--public-url", "https://bridge.example"], "bogus"),
    ("hooks status", ["-m", "bad.yaml"], "bogus"),
    ("auth amocrm", ["alfa", *("--base-url", "nope", "--client-id", "i"), *(
        "--client-secret", "s", "--redirect-uri", "https://bridge.example/cb")], "nope"),
]  # fmt: skip


def _commands() -> Iterator[str]:
    def walk(command: object, prefix: tuple[str, ...]) -> Iterator[str]:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, (*prefix, name))
        else:
            yield " ".join(prefix)

    yield from walk(get_command(app), ())


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied into each test: later opens of it are quiet."""
    path = tmp_path_factory.mktemp("db") / "bridge.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated: Path) -> Path:
    """A directory with a valid mapping (unreachable CRMs), a broken one and a bad .env."""
    shutil.copy(ROOT / "mapping.yaml", tmp_path / "mapping.yaml")
    names = {
        "AGENCY_B24_WEBHOOK": UNREACHABLE,
        "AGENCY_B24_APP_TOKEN": "app-token",
        "ALFA_AMO_URL": UNREACHABLE,
        "ALFA_AMO_TOKEN": "amo-token",
        "ALFA_AMO_HOOK_SECRET": "hook-secret",
        "BETA_B24_WEBHOOK": UNREACHABLE,
        "BETA_B24_APP_TOKEN": "app-token",
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in names.items()))
    (tmp_path / "bad.yaml").write_text("version: 1\nagency:\n  bogus: 1\n")
    (tmp_path / "bad.env").write_text("BRIDGE_HTTP_PORT=notaport\n")
    shutil.copy(migrated, tmp_path / "bridge.db")
    monkeypatch.chdir(tmp_path)
    for name in ("BRIDGE_DB_URL", "BRIDGE_MAPPING", "BRIDGE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_every_command_has_bad_input_cases() -> None:
    covered = {path for path, _, _ in CASES}
    missing = sorted(set(_commands()) - covered)
    assert not missing, f"add bad-input cases for: {missing}"


@pytest.mark.parametrize(("path", "args", "named"), CASES, ids=lambda v: str(v)[:40])
def test_bad_input_is_one_clear_answer(
    workdir: Path, path: str, args: list[str], named: str
) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*path.split(), *args])
    output = result.output
    assert result.exit_code not in (0, None), output
    assert "Traceback" not in output, output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert named in output, output
    assert "alembic" not in output, output  # no migration chatter on a failing command


def test_usage_errors_exit_2_runtime_failures_exit_1(workdir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["status", "--db-url", "garbage"]).exit_code == 2
    assert runner.invoke(app, ["retry", "99999"]).exit_code == 1
    assert runner.invoke(app, ["kpi", "--chart", "missing/dir/k.svg"]).exit_code == 1


def test_an_unforeseen_error_is_one_line_with_the_verbose_hint(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("sync.cli.passes.show_parked", explode)
    result = CliRunner().invoke(app, ["parked"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "error: unexpected error: ZeroDivisionError: division by zero — "
        "run with --verbose for details"
    ]


def test_the_second_command_on_a_database_prints_no_migration_lines(workdir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["status"]).exit_code == 0
    again = runner.invoke(app, ["retry", "--all"])
    assert again.exit_code == 0
    assert again.output.strip() == "no parked links to queue"


READING = [
    ["status"],
    ["deal", "1"],
    ["parked"],
    ["kpi"],
    ["hooks", "status"],
    ["ledger", "balances"],
    ["ledger", "entries"],
    ["ledger", "statement", "alfa"],
    ["ledger", "payouts"],
    ["ledger", "fees", "--dry-run"],
    ["rates", "list"],
    ["channels", "held"],
    ["leads"],
]


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_a_reading_command_where_no_store_is_says_so_and_creates_none(
    workdir: Path, args: list[str]
) -> None:
    (workdir / "bridge.db").unlink()
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1] == (
        f"error: no store at {workdir / 'bridge.db'}: nothing has synced with these settings"
        " — run the command in the bridge's folder, or point --db-url / BRIDGE_DB_URL at"
        " its store"
    )
    assert all(line.startswith("store: ") for line in lines[:-1])  # `status` names it first
    assert not (workdir / "bridge.db").exists()


def test_a_bad_allocator_setting_is_one_line_and_exit_2(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_MALLOC_ARENAS", "abc")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: BRIDGE_MALLOC_ARENAS='abc' is not a whole number of arenas of 1 or more; "
        "set e.g. BRIDGE_MALLOC_ARENAS=2"
    )
