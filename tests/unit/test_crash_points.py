"""Crash points are a no-op in the product; only the test kill switch makes them kill."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync.apply import CRASH_POINTS, crash_point, install_crash_hook
from tests.crash_switch import CRASH_ENV, arm, die_at


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    install_crash_hook(None)
    yield
    install_crash_hook(None)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_the_environment_alone_never_kills_the_product(
    point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRASH_ENV, point)
    crash_point(point)  # the old default died here with os._exit(137), taking pytest along


def test_an_installed_hook_hears_every_point() -> None:
    heard: list[str] = []
    install_crash_hook(heard.append)
    for point in CRASH_POINTS:
        crash_point(point)
    assert heard == list(CRASH_POINTS)
    install_crash_hook(None)
    crash_point(CRASH_POINTS[0])
    assert heard == list(CRASH_POINTS)


def test_an_armed_switch_passes_over_the_other_points() -> None:
    arm("before_cursor_commit")
    for point in CRASH_POINTS:
        if point != "before_cursor_commit":
            crash_point(point)


def test_the_switch_refuses_a_point_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="unknown crash point 'after_lunch'; known: after_page"):
        die_at("after_lunch")
