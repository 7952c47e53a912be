"""The digest per segment, manager or grade: each group gets its partners' sections
(``bridge digest --by manager``: a manager reads the digest of their own partners)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.digest.select import PartnerDigest
from bridge.mapping.compiled import Groups

UNGROUPED = "—"


def sections(
    digests: Sequence[PartnerDigest], groups: Mapping[str, Groups], by: str
) -> list[tuple[str, list[PartnerDigest]]]:
    """(group, its partners' digests), groups by name, partners without one last."""
    found: dict[str, list[PartnerDigest]] = {}
    for digest in digests:
        grouping = groups.get(digest.partner_code)
        name = (grouping.of(by) if grouping else None) or UNGROUPED
        found.setdefault(name, []).append(digest)
    order = sorted(found, key=lambda g: (g == UNGROUPED, g.casefold()))
    return [(name, found[name]) for name in order]


def members(groups: Mapping[str, Groups], by: str, name: str) -> set[str]:
    """The partner codes in group ``name`` under ``by`` (case-insensitive)."""
    wanted = name.strip().casefold()
    return {c for c, g in groups.items() if (g.of(by) or "").casefold() == wanted}
