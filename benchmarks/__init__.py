"""Reproducible performance runs against the sandboxes (not part of the test run)."""
