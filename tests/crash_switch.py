"""The kill switch of the process-death tests: die with ``os._exit(137)`` at a crash point.

The product's crash points (:data:`sync.apply.CRASH_POINTS`) do nothing; a test
process that must die at one installs this switch first, with :func:`arm`. As a
command, ``python -m tests.crash_switch ARGS...`` runs ``bridge ARGS...`` armed at
the point ``BRIDGE_CRASH_AT`` names (unset or empty: not armed), for tests that
start the bridge as a separate process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from sync.apply import CRASH_POINTS, install_crash_hook

CRASH_ENV = "BRIDGE_CRASH_AT"
EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL (128 + 9)


def die_at(point: str) -> Callable[[str], None]:
    """A crash hook that ends the process, without any cleanup, when ``point`` is reached."""
    if point not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {point!r}; known: {', '.join(CRASH_POINTS)}")

    def crash(name: str) -> None:
        if name == point:
            os._exit(EXIT_CODE)

    return crash


def arm(point: str | None) -> None:
    """Make this process die at ``point``; None or "" disarms the switch."""
    install_crash_hook(die_at(point) if point else None)


def main(argv: Sequence[str]) -> None:
    """``bridge ARGS...`` with the switch armed from ``BRIDGE_CRASH_AT``."""
    from sync.cli.main import app

    arm(os.environ.get(CRASH_ENV))
    app(list(argv), prog_name="bridge")


if __name__ == "__main__":
    main(sys.argv[1:])
