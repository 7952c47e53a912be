"""The webhook debounce adapts to the inbox's arrival rate: a trickle waits little,
a storm folds."""

from __future__ import annotations

import datetime as dt

from sync.sources.inbox import AdaptiveDebounce

TRICKLE = dt.timedelta(milliseconds=250)
STORM = dt.timedelta(seconds=3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_trickle_goes_out_at_once_and_a_storm_folds_then_calms() -> None:
    clock = Clock()
    debounce = AdaptiveDebounce(TRICKLE, STORM, rate=20, clock=clock)
    for _ in range(5):  # one edit every 2 s, a few events each
        assert debounce(3) == TRICKLE
        clock.now += 2.0
    waits = []
    for _ in range(40):  # 40 hints in 0.4 s
        waits.append(debounce(1))
        clock.now += 0.01
    assert waits[:20] == [TRICKLE] * 20  # the rate is only known once it is exceeded
    assert waits[20:] == [STORM] * 20
    clock.now += 1.0  # a quiet second: the next edit is a trickle again
    assert debounce(1) == TRICKLE


def test_a_fixed_debounce_never_adapts_and_a_storm_never_waits_less() -> None:
    clock = Clock()
    fixed = AdaptiveDebounce(TRICKLE, None, rate=1, clock=clock)
    assert {fixed(50) for _ in range(10)} == {TRICKLE}
    long = dt.timedelta(hours=1)
    slow = AdaptiveDebounce(long, STORM, rate=1, clock=clock)
    assert {slow(50) for _ in range(10)} == {long}


def test_passes_for_due_hints_are_paced_during_a_storm_only() -> None:
    clock = Clock()
    debounce = AdaptiveDebounce(TRICKLE, STORM, rate=20, clock=clock)
    debounce(1)
    assert [debounce.may_drain() for _ in range(3)] == [True] * 3  # a trickle: every tick
    debounce(50)  # a storm
    started = []
    for _ in range(40):  # 10 s of 0.25 s ticks while hints keep storming in
        debounce(50)
        started.append(debounce.may_drain())
        clock.now += 0.25
    assert started.count(True) == 4  # one pass per 3 s of storm
    clock.now += 3.0  # calm for as long as the storm debounce: every tick again
    assert [debounce.may_drain() for _ in range(3)] == [True] * 3
