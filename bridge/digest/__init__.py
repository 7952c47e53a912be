"""Stale deals and the weekly digest.

* :mod:`~bridge.digest.select` — pure: which links are stale, the digest's wording;
* :mod:`~bridge.digest.tables` — the ``digest_note`` table.

Running the digest over the store (posting status-request notes at most once per
deal per week) is a sync job: :mod:`sync.jobs.digest`.
"""
