"""``bridge digest``: the weekly digest on demand, optionally posting the status requests.

Reads partner names and policies from mapping.yaml offline; only ``--post-notes``
opens the partners' CRMs (through :mod:`bridge.mapping.connect`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from bridge.crm import Crm
from bridge.digest.groups import members, sections
from bridge.digest.select import DigestReport, render
from bridge.kpi.report import GROUP_TITLES
from bridge.mapping.spec import MappingSpec
from bridge.store.db import Store
from sync.jobs.digest import notices_for, run_digest
from sync.runtime.settings import Resolved


class DigestFailed(Exception):
    """mapping.yaml cannot be read or names no such partner; the message says which."""


def load_spec(path: Path, partner: str | None) -> MappingSpec:
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError) as exc:
        raise DigestFailed(f"{path}: {exc} (run `bridge check` for every problem)") from None
    if partner is not None and partner not in spec.partners:
        raise DigestFailed(f"partner {partner!r} is not in {path}; known: {sorted(spec.partners)}")
    return spec


def digest_command(
    mapping_path: Path,
    store: Store,
    now: dt.datetime,
    *,
    partner: str | None,
    post_notes: bool,
    echo: Callable[[str], None],
    by: str | None = None,
    group: str | None = None,
) -> DigestReport:
    """Print the digest; ``by`` (segment, manager, grade) prints it in one section per
    group; ``group`` keeps only that group's partners (``--manager Анна``)."""
    spec = load_spec(mapping_path, partner)
    groups = {c: p.groups for c, p in spec.partners.items()}
    among = None
    if group is not None and by is not None:
        among = members(groups, by, group)
        if not among:
            known = sorted({name for g in groups.values() if (name := g.of(by))})
            raise DigestFailed(
                f"no partner has {by} {group!r} in {mapping_path}; known: {known or '(none)'}"
            )
    crms: Mapping[str, Crm] = {}
    if post_notes:
        import functools

        from bridge.mapping.connect import close_all, open_all, open_crm

        db_url = store.engine.url.render_as_string(hide_password=False)
        opened, failed = open_all(spec, functools.partial(open_crm, db_url=db_url))
        for code, reason in sorted(failed.items()):
            echo(f"warning: cannot open {code}: {reason}; no notes for it")
        crms = opened
    try:
        report = run_digest(
            store,
            spec,
            crms,
            now,
            post_notes=post_notes,
            only=partner,
            among=among,
            decline=spec.decline,
        )
    finally:
        if post_notes:
            close_all(dict(crms))
    parts = sections(report.partners, groups, by) if by else [("", list(report.partners))]
    for name, digests in parts:
        if by:
            echo(f"=== {GROUP_TITLES['ru'][by]}: {name} ===")
        for digest in digests:
            for line in render(digest, now, notices_for(spec.partners[digest.partner_code])):
                echo(line)
            for agency_id, error in digest.notes_failed:
                echo(f"  ! {agency_id}: {error}")
            echo("")
    return report


def grouped(resolved: Resolved, report: DigestReport, by: str) -> list[dict[str, object]]:
    """The report's sections for JSON: each group with its partner codes."""
    spec = load_spec(resolved.mapping_path, None)
    groups = {c: p.groups for c, p in spec.partners.items()}
    return [
        {"group": name, "partners": [d.partner_code for d in digests]}
        for name, digests in sections(report.partners, groups, by)
    ]
