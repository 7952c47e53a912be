"""``bridge sync``, ``status``, ``deal``, ``parked``, ``retry``: the engine from the command line.

``sync`` opens the CRMs named in mapping.yaml, resolves the mapping against
them and runs one pass, with a progress display. The other commands read or
queue work in the store only, so they answer even while a CRM is down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.store.db import Store
from sync.cli.views import deal_view, mapping_views, parked_table, status_table
from sync.engine import Engine, PassReport, retry_parked
from sync.engine import Progress as EngineProgress
from sync.first_sync import handover_lines

AGENCY_SYSTEM = "bitrix24:agency"  # how bridge.mapping.connect labels the agency portal
# A catalog the store read live no longer ago than this is used as is (the daemon's
# drift check re-reads on the same period).
RESOLVE_MAX_AGE = dt.timedelta(minutes=10)
STEPS = {
    "gather": "reading changes",
    "partners": "syncing partners",
    "plan": "planning",
    "apply": "writing",
    "record": "recording",
}


class SetupFailed(Exception):
    """The mapping or a CRM connection is not usable; the message says what to fix."""


class UnknownPartner(SetupFailed):
    """``--partner`` names no partner of mapping.yaml; the message lists the known codes."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_engine(
    mapping_path: Path,
    store: Store,
    progress: EngineProgress | None = None,
    *,
    partner: str | None = None,
) -> tuple[Engine, list[Crm]]:
    import functools

    from bridge.mapping.connect import close_all, open_all, open_crm
    from bridge.mapping.resolve import resolve
    from bridge.mapping.resolve_cache import StoreCache
    from bridge.mapping.validate import load_mapping

    spec = load_mapping(mapping_path)
    if partner is not None and partner not in spec.partners:
        known = ", ".join(sorted(spec.partners)) or "(none)"
        raise UnknownPartner(f"--partner {partner!r} is not in {mapping_path}; known: {known}")
    # OAuth partners read their tokens from this store, not from a default one.
    db_url = store.engine.url.render_as_string(hide_password=False)
    # Only what this pass touches is opened and resolved (the agency and --partner X),
    # from the store's resolution cache when it read those accounts recently.
    only = None if partner is None else (partner,)
    crms, failed = open_all(spec, functools.partial(open_crm, db_url=db_url), only=only)
    if "agency" not in crms:
        close_all(crms)
        raise SetupFailed(f"cannot open the agency portal: {failed.get('agency')}")
    cache = StoreCache(store.engine)
    report = resolve(spec, crms, only=only, cache=cache, max_age=RESOLVE_MAX_AGE)
    if report.compiled is None:
        close_all(crms)
        problems = "\n".join(f"  {p}" for p in report.problems)
        raise SetupFailed(f"{mapping_path} does not resolve against the CRMs:\n{problems}")
    compiled: CompiledMapping = report.compiled
    partners = {code: crm for code, crm in crms.items() if code in compiled.partners}
    engine = Engine(store, compiled, crms["agency"], partners, clock=utcnow, progress=progress)
    return engine, list(crms.values())


def run_sync(
    mapping_path: Path, store: Store, console: Console, *, partner: str | None, dry_run: bool
) -> PassReport:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("connecting", total=None)

        def show(step: str, done: int = 0, total: int = 0) -> None:
            label = STEPS.get(step, step)
            progress.update(task, description=label, completed=done, total=total or None)

        engine, crms = open_engine(mapping_path, store, show, partner=partner)
        try:
            report = engine.sync(partner, dry_run=dry_run)
        finally:
            engine.close()  # the partners' lanes end before their CRMs close
            for crm in crms:
                crm.close()
    print_report(report, console, dry_run=dry_run, mapping=engine.mapping)
    return report


def print_report(
    report: PassReport,
    console: Console,
    *,
    dry_run: bool,
    mapping: CompiledMapping | None = None,
) -> None:
    if dry_run:
        for plan in report.plans:
            names = ", ".join(type(op).__name__ for op in plan.operations) or "state only"
            console.print(f"{plan.link_key[0]} → {plan.link_key[1]}: {names}")
        if mapping is not None:
            codes = sorted(report.starts)
            first = [c for c, at in report.starts.items() if at == report.started_at]
            for line in handover_lines(report.plans, mapping, codes, first):
                console.print(line, markup=False)
        console.print(f"[bold]{len(report.plans)} plan(s); nothing written (dry run)[/]")
        return
    verdicts = ", ".join(f"{k}: {v}" for k, v in sorted(report.verdicts.items())) or "no changes"
    console.print(f"[bold]pass done[/] — {verdicts}; {report.writes} write(s)")
    for code, message in sorted(report.errors.items()):
        console.print(f"[red]{code}[/]: {message}")


def show_status(store: Store, console: Console, mapping_path: Path | None = None) -> None:
    """The status table; with ``mapping_path``, every partner of mapping.yaml is listed."""
    views, note = mapping_views(mapping_path) if mapping_path is not None else (None, None)
    console.print(status_table(store, utcnow(), views, note))


def show_deal(store: Store, agency_deal_id: str, console: Console) -> bool:
    return deal_view(store, agency_deal_id, console)


def show_parked(store: Store, console: Console) -> None:
    console.print(parked_table(store))


def queue_retry(
    store: Store, link_ids: Sequence[int] | None, *, confirm: bool = False
) -> list[int]:
    """Queue parked links (all or these ids) for the next pass; returns the queued ids.
    ``confirm``: accept the paid value each was parked for (see sync.plan.money)."""
    return retry_parked(store, AGENCY_SYSTEM, utcnow(), link_ids, confirm=confirm)
