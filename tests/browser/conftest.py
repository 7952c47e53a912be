"""Browser tests: Playwright driving the system's Chromium against the running demo.

Chromium comes from the Debian ``chromium`` package (``.ci/run`` installs it);
``playwright install`` is never needed. Without Chromium these tests are skipped
with the reason, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.live import Live

from sync.cli.demo_screens import NoChromium, browser, chromium_path
from sync.cli.demo_site import DemoSite, demo_site
from sync.runtime.daemon import DaemonOptions

# Polling every hour: in these tests only webhooks and the console's buttons move deals.
OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),
    drain_every=dt.timedelta(milliseconds=200),
    debounce=dt.timedelta(milliseconds=300),
)


def _require_browser() -> None:
    try:
        import playwright  # noqa: F401

        chromium_path()
    except (ImportError, NoChromium) as exc:
        reason = f"browser tests need playwright and the chromium package: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: .ci/run installs them)")
        pytest.skip(reason)


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo after its story: deals at both partners, commission both ways."""
    _require_browser()
    from sync.cli.demo import Story

    directory: Path = tmp_path_factory.mktemp("browser-demo")
    with demo_site(directory, OPTIONS) as running:
        quiet = Console(file=io.StringIO(), width=120)
        with Live(console=quiet, transient=True) as live:
            Story(running.world, running.daemon, live).play()
        yield running


@pytest.fixture(scope="package")
def chromium(site: DemoSite) -> Iterator[object]:
    with browser() as launched:
        yield launched
