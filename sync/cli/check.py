"""``bridge check``: validate mapping.yaml offline, then resolve it against every CRM.

Prints each problem as ``file:LINE:COL path: message``, then (online) a per-partner
summary table, the partners passing leads (``leads:``) and where those land, and
the hand-overs foreseen to park (:mod:`sync.handover_check`: a
currency the partner keeps that differs from the agency's with no rate known for the
pair, and a dry-run plan of a few open deals per partner at the known rates). Exit
code 0 when there are no errors, 1 otherwise; foreseen parks are warnings, which fail
the check only with ``--strict``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bridge.fx.rates import Rate, RateBook
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import Opener, close_all, open_all, open_crm
from bridge.mapping.env import Environment
from bridge.mapping.errors import MappingProblem, sort_problems
from bridge.mapping.resolve import PartnerSummary, ResolveReport, describe_commission, resolve
from bridge.mapping.resolve_cache import CACHE_TABLE, StoreCache
from bridge.mapping.spec import MappingSpec
from bridge.mapping.validate import validate_text
from sync.handover_check import Outlook, foresee


def run_check(
    path: Path,
    *,
    offline: bool = False,
    fix: bool = False,
    strict: bool = False,
    console: Console | None = None,
    opener: Opener = open_crm,
    now: dt.datetime | None = None,
    db_url: str | None = None,
) -> int:
    """Run the check and print the outcome; the process exit code.

    Online, every account is read live (all at once); with ``db_url`` naming an existing
    store, what was read refreshes that store's resolution cache."""
    console = console or Console()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _say(console, f"{path}: cannot read the file: {exc.strerror}")
        return 1
    spec, problems = validate_text(text, str(path), Environment.for_mapping(path))
    _print_problems(console, sort_problems(problems))
    if spec is None:
        errors = sum(1 for p in problems if not p.warning)
        _say(console, f"{errors} problem(s) in {path}; nothing was started.")
        return 1
    if offline:
        _say(console, f"{path}: valid ({len(spec.partners)} partners; offline check)")
        _say(console, "\n".join(leads_lines(spec)))
        return 0
    crms, failed = open_all(spec, opener)
    cache = store_cache(db_url)
    try:
        report = resolve(spec, crms, fix=fix, cache=cache)
        outlook = None
        if report.compiled is not None:
            rates = RateBook.of((*report.compiled.rates, *store_rates(db_url)))
            when = now or dt.datetime.now(dt.UTC)
            outlook = foresee(report.compiled, crms, when, rates=rates)
    finally:
        close_all(crms)
        if cache is not None:
            cache.close()
    _print_problems(console, [*report.problems, *report.warnings])
    for label, reason in failed.items():
        _say(console, f"{label}: not checked online — {reason}")
    if fix:
        for line in report.created or ["--fix: nothing to create, every stamp field exists"]:
            _say(console, line)
    if report.compiled is not None:
        console.print(summary_table(report.summaries))
        _say(console, "\n".join(leads_lines(spec, report.compiled)))
    parks = _print_outlook(console, outlook) if outlook is not None else 0
    _say(console, _verdict(report, path))
    if parks and report.ok:
        hint = " (--strict: this fails the check)" if strict else ""
        _say(console, f"{parks} hand-over(s) foreseen to park{hint}")
    return 0 if report.ok and not (strict and parks) else 1


def _print_outlook(console: Console, outlook: Outlook) -> int:
    """Print the foreseen parks (as warnings) and the sample per partner; how many parks."""
    for foreseen in outlook.parks:
        _say(console, "warning: " + foreseen.line())
    for account in outlook.unread:
        _say(console, f"warning: sample dry run not done for {account}")
    for code, count in outlook.sampled.items():
        parked = sum(1 for f in outlook.parks if f.partner == code and f.deal_id is not None)
        _say(
            console, f"dry run: partner '{code}': {count} open deal(s) sampled, {parked} would park"
        )
    return len(outlook.parks)


def store_cache(db_url: str | None) -> StoreCache | None:
    """The resolution cache of an existing, migrated store; None otherwise (a check never
    creates a store, and one it cannot reach is simply not refreshed)."""
    if db_url is None:
        return None
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.store.db import make_engine

    if db_url.startswith("sqlite") and not _sqlite_file_exists(db_url):
        return None
    engine = make_engine(db_url)
    try:
        if inspect(engine).has_table(CACHE_TABLE):
            return StoreCache(engine, owned=True)
    except SQLAlchemyError:
        pass
    engine.dispose()
    return None


def store_rates(db_url: str | None) -> list[Rate]:
    """The rates entered with ``bridge rates set`` in an existing, migrated store; none
    otherwise (a check never creates a store)."""
    if db_url is None or (db_url.startswith("sqlite") and not _sqlite_file_exists(db_url)):
        return []
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from bridge.fx.store import all_rates
    from bridge.fx.tables import ExchangeRateRow
    from bridge.store.db import make_engine

    engine = make_engine(db_url)
    try:
        if inspect(engine).has_table(ExchangeRateRow.__tablename__):
            with Session(engine) as session:
                return all_rates(session)
    except SQLAlchemyError:
        pass
    finally:
        engine.dispose()
    return []


def _sqlite_file_exists(db_url: str) -> bool:
    from sqlalchemy.engine import make_url

    database = make_url(db_url).database
    return bool(database) and database != ":memory:" and Path(str(database)).is_file()


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_problems(console: Console, problems: Sequence[MappingProblem]) -> None:
    for problem in problems:
        prefix = "warning: " if problem.warning else ""
        console.print(prefix + str(problem), markup=False, highlight=False, soft_wrap=True)


def _verdict(report: ResolveReport, path: Path) -> str:
    if report.ok:
        return f"{path}: OK — every name resolved ({len(report.warnings)} warning(s))"
    return f"{path}: {len(report.problems)} problem(s); affected deals will be parked"


def summary_table(summaries: Sequence[PartnerSummary]) -> Table:
    table = Table(title="Partners")
    for column in ("partner", "CRM", "connection", "pipeline", "stages", "unmapped", "fields"):
        table.add_column(column)
    table.add_column("commission")
    table.add_column("warnings", justify="right")
    for s in summaries:
        connection = "OK" if s.connected else "FAILED"
        if s.paused:
            connection += " (paused)"
        table.add_row(
            f"{s.code} · {s.name}",
            s.kind,
            connection,
            s.pipeline,
            f"{s.stages_mapped} mapped",
            ", ".join(s.stages_unmapped) or "—",
            str(s.fields_mapped),
            s.commission,
            f"{s.warnings}" + (f" + {s.problems} errors" if s.problems else ""),
        )
    return table


def leads_lines(spec: MappingSpec, compiled: CompiledMapping | None = None) -> list[str]:
    """One line per partner with ``leads:``: which of its deals pass and where they land.

    Leads create agency deals, so an admin checking the mapping should see which
    partners do that and with what commission; ``compiled`` (online) adds the commission
    as resolved, offline the line says whose rules apply."""
    lines = []
    for code, partner in spec.partners.items():
        leads = partner.leads
        if leads is None:
            continue
        chosen = [f"in '{leads.pipeline or partner.pipeline}'"]
        if leads.stage is not None:
            chosen.append(f"at '{leads.stage}'")
        if leads.field is not None:
            chosen.append(f"with '{leads.field}' set")
        target = f"'{leads.agency_pipeline or spec.agency.pipeline}' at '{leads.agency_stage}'"
        config = compiled.partners.get(code) if compiled is not None else None
        if config is not None and config.leads is not None:
            commission = describe_commission(config.leads.commission)
        else:
            commission = "own lead rules" if leads.rules is not None else "the partner's rules"
        lines.append(
            f"leads: {code} · {partner.name}: deals {' '.join(chosen)} → agency deals in "
            f"{target}; commission: {commission}"
        )
    return lines or ["leads: no partner passes leads (no 'leads:' in the mapping)"]
