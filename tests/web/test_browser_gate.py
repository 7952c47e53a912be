"""Without Chromium the browser tests skip with the reason — except in CI, where they fail."""

from __future__ import annotations

import pytest

from sync.cli import demo_screens
from tests.browser import conftest as browser_conftest


def _no_chromium() -> str:
    raise demo_screens.NoChromium("no chromium found; install it with: apt-get install -y chromium")


def test_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_conftest, "chromium_path", _no_chromium)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        browser_conftest._require_browser()


def test_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_conftest, "chromium_path", _no_chromium)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser_conftest._require_browser()
