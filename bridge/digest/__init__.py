"""Stale deals and the weekly digest.

* :mod:`~bridge.digest.select` — pure: which links are stale, the digest's wording;
* :mod:`~sync.jobs.digest` — :func:`run_digest` over the store, posting
  status-request notes at most once per deal per week (table ``digest_note``).
"""

from __future__ import annotations

from bridge.digest.select import (
    DigestReport,
    PartnerDigest,
    StaleDeal,
    Waiting,
    is_digest_day,
    render,
    stale_links,
    week_key,
    without_stage_change,
)
from bridge.digest.tables import DigestNoteRow
from sync.jobs.digest import build_digest, notices_for, run_digest

__all__ = [
    "DigestNoteRow",
    "DigestReport",
    "PartnerDigest",
    "StaleDeal",
    "Waiting",
    "build_digest",
    "is_digest_day",
    "notices_for",
    "render",
    "run_digest",
    "stale_links",
    "week_key",
    "without_stage_change",
]
