"""Partner lanes: a deadline per partner, a busy partner skipped, a probe after a miss."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from bridge.crm import Unavailable
from sync.lanes import Lanes, seconds_from_env

WAIT = 10.0  # the most a test waits on a condition before it fails


class Gate:
    """A call that blocks until released; counts how often it was entered."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the gate"
        return "late"


@pytest.fixture
def gate() -> Iterator[Gate]:
    made = Gate()
    yield made
    made.release.set()


def test_an_answer_within_the_deadline_is_returned_and_errors_pass_through() -> None:
    lanes = Lanes(deadline=WAIT, probe=1.0)
    lanes.begin_pass()
    assert lanes.call("alfa", lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        lanes.call("alfa", lambda: 1 // 0)
    assert lanes.busy("alfa") is None and not lanes.probing("alfa")


def test_a_missed_deadline_sets_the_partner_aside_until_its_call_returns(gate: Gate) -> None:
    lanes = Lanes(deadline=0.05, probe=0.05)
    lanes.begin_pass()
    with pytest.raises(Unavailable, match=r"did not answer within 0\.05 s"):
        lanes.call("alfa", gate)
    assert gate.entered.is_set()
    busy = lanes.busy("alfa")
    assert busy is not None and "busy" in str(busy)
    # Later calls, this pass or the next, never wait on it and never reach the CRM.
    with pytest.raises(Unavailable, match="busy"):
        lanes.call("alfa", gate)
    lanes.end_pass()
    lanes.begin_pass()
    with pytest.raises(Unavailable, match="busy"):
        lanes.call("alfa", gate)
    assert gate.calls == 1
    # Another partner is not touched by it.
    assert lanes.call("beta", lambda: "ok") == "ok"
    assert lanes.busy("beta") is None
    gate.release.set()
    assert lanes.wait_idle("alfa", WAIT)
    assert lanes.busy("alfa") is None


def test_after_a_miss_the_next_deadline_is_the_probe_until_it_answers_in_time(
    gate: Gate,
) -> None:
    lanes = Lanes(deadline=0.3, probe=0.05)
    first = Gate()
    lanes.begin_pass()
    with pytest.raises(Unavailable, match=r"did not answer within 0\.3 s"):
        lanes.call("alfa", first)
    first.release.set()
    assert lanes.wait_idle("alfa", WAIT)
    assert lanes.probing("alfa")
    lanes.end_pass()
    lanes.begin_pass()
    with pytest.raises(Unavailable, match=r"did not answer within 0\.05 s"):
        lanes.call("alfa", gate)  # only the probe is waited for
    gate.release.set()
    assert lanes.wait_idle("alfa", WAIT)
    lanes.end_pass()
    lanes.begin_pass()
    assert lanes.call("alfa", lambda: "back") == "back"
    assert not lanes.probing("alfa")  # answered in time: the full deadline again
    lanes.end_pass()


def test_a_pass_gives_a_partner_its_deadline_for_all_its_calls_together() -> None:
    now = [0.0]

    def spend(seconds: float) -> str:
        now[0] += seconds
        return "ok"

    lanes = Lanes(deadline=10.0, probe=1.0, monotonic=lambda: now[0])
    lanes.begin_pass()
    assert lanes.call("alfa", lambda: spend(6)) == "ok"
    assert lanes.call("alfa", lambda: spend(6)) == "ok"  # 4 s were left: it answered at once
    with pytest.raises(Unavailable, match="used up its 10 s"):
        lanes.call("alfa", lambda: spend(1))
    assert lanes.call("beta", lambda: spend(6)) == "ok"  # each partner has its own
    lanes.end_pass()
    lanes.begin_pass()
    assert lanes.call("alfa", lambda: spend(6)) == "ok"
    lanes.end_pass()
    # Outside a pass every call gets the full deadline.
    assert lanes.call("alfa", lambda: spend(9)) == "ok"
    assert lanes.call("alfa", lambda: spend(9)) == "ok"


def test_deadlines_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_PARTNER_DEADLINE", "12.5")
    monkeypatch.setenv("BRIDGE_PARTNER_PROBE", "")
    lanes = Lanes()
    assert (lanes.deadline, lanes.probe) == (12.5, 1.0)
    monkeypatch.setenv("X_SECS", "soon")
    with pytest.raises(ValueError, match="X_SECS='soon' is not a number of seconds"):
        seconds_from_env("X_SECS", 1.0)
    monkeypatch.setenv("X_SECS", "-3")
    with pytest.raises(ValueError, match="must be more than 0 seconds"):
        seconds_from_env("X_SECS", 1.0)
