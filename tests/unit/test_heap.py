"""The collector's young threshold is raised for passes, never lowered."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sync.heap import YOUNG, tune_collector


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_a_lower_young_threshold_is_raised_and_the_others_kept() -> None:
    gc.set_threshold(700, 7, 9)
    tune_collector()
    assert gc.get_threshold() == (YOUNG, 7, 9)


@pytest.mark.parametrize("young", [YOUNG * 2, 0])
def test_a_higher_threshold_or_a_disabled_collector_is_left_alone(young: int) -> None:
    gc.set_threshold(young, 10, 10)
    tune_collector()
    assert gc.get_threshold() == (young, 10, 10)
