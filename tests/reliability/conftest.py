"""Hypothesis profiles for the reliability suite, and the invariant reports in the summary.

``BRIDGE_LONG=1`` selects the long profile (more examples, longer runs, more kill-9
iterations); the default is the bounded CI profile. Every report the checker made
is printed at the end of the normal test output, no ``-s`` needed.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.reliability.invariants import REPORTS, render_all

LONG = os.environ.get("BRIDGE_LONG") == "1"

settings.register_profile(
    "reliability-ci",
    max_examples=int(os.environ.get("BRIDGE_SM_EXAMPLES", "200")),
    stateful_step_count=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
settings.register_profile(
    "reliability-long",
    max_examples=2000,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = settings.get_profile("reliability-long" if LONG else "reliability-ci")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("reliability invariants")
    terminalreporter.write_line(render_all())
