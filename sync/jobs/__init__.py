"""Periodic jobs beside the sync pass: the stale-deal digest and the daily ledger jobs."""
