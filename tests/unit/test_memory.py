"""The allocator's limits a bridge process sets at its start (bridge/memory.py)."""

from __future__ import annotations

import pytest

from bridge.memory import ARENAS_ENV, DEFAULT_ARENAS, allocator_settings, limit_allocator

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8


def test_by_default_two_arenas_and_a_fixed_mmap_threshold() -> None:
    assert allocator_settings({}) == {M_ARENA_MAX: DEFAULT_ARENAS, M_MMAP_THRESHOLD: 128 * 1024}
    assert allocator_settings({ARENAS_ENV: "4"})[M_ARENA_MAX] == 4


def test_glibcs_own_variables_win() -> None:
    environ = {"MALLOC_ARENA_MAX": "8", "MALLOC_MMAP_THRESHOLD_": "65536", ARENAS_ENV: "1"}
    assert allocator_settings(environ) == {}


@pytest.mark.parametrize("raw", ["0", "two", "-1"])
def test_a_bad_arena_count_says_so_in_one_line(raw: str) -> None:
    with pytest.raises(ValueError, match=f"{ARENAS_ENV}='{raw}' is not a whole number"):
        allocator_settings({ARENAS_ENV: raw})


def test_setting_them_is_harmless_when_already_set() -> None:
    # Nothing to set: no C library call at all.
    assert limit_allocator({"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"})
