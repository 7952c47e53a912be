"""Stale deals and the weekly digest.

* :mod:`~bridge.digest.select` — pure: which links are stale, the digest's wording;
* :mod:`~sync.jobs.digest` — :func:`run_digest` over the store, posting
  status-request notes at most once per deal per week (table ``digest_note``).
"""
