"""``bridge digest``: the weekly digest on demand, optionally posting the status requests.

Reads partner names and policies from mapping.yaml offline; only ``--post-notes``
opens the partners' CRMs (through :mod:`bridge.mapping.connect`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from bridge.crm import Crm
from bridge.digest.select import DigestReport, render
from bridge.mapping.spec import MappingSpec
from bridge.store.db import Store
from sync.jobs.digest import notices_for, run_digest


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
) -> DigestReport:
    spec = load_spec(mapping_path, partner)
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
            store, spec, crms, now, post_notes=post_notes, only=partner, decline=spec.decline
        )
    finally:
        if post_notes:
            close_all(dict(crms))
    for digest in report.partners:
        for line in render(digest, now, notices_for(spec.partners[digest.partner_code])):
            echo(line)
        for agency_id, error in digest.notes_failed:
            echo(f"  ! {agency_id}: {error}")
        echo("")
    return report
