"""Flat combining of the lanes' agency calls, and the read gate (:mod:`sync.combine`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bridge.crm import Unavailable
from sync.combine import Combiner, Gate

WAIT = 10.0  # the most a test waits on a condition before it fails


class Recorded:
    """A send function that records what it was asked (and can fail)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.asked: list[list[Any]] = []
        self.fail = fail

    def keyed(self, keys: Sequence[str]) -> dict[str, str]:
        self.asked.append(list(keys))
        if self.fail is not None:
            raise self.fail
        return {k: k.upper() for k in keys if k != "gone"}

    def positional(self, items: Sequence[str]) -> list[str]:
        self.asked.append(list(items))
        if self.fail is not None:
            raise self.fail
        return [f"ok:{i}" for i in items]


def _queued(gate: Gate, n: int) -> None:
    """Wait until ``n`` threads have an agency call queued."""
    with gate._changed:
        assert gate._changed.wait_for(lambda: len(gate._queued) == n, WAIT), "never queued"


def _in_threads(*calls: Callable[[], Any]) -> tuple[list[threading.Thread], list[Any]]:
    out: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            out[i] = call()
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    return threads, out


def _joined(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), "a lane never got its answer"


def _while_busy(combiner: Combiner, *calls: Callable[[], Any]) -> list[Any]:
    """``calls`` on lanes of their own, all queued while another call holds the agency."""
    with combiner.lock:
        threads, out = _in_threads(*calls)
        _queued(combiner.gate, len(calls))
    _joined(threads)
    return out


def test_reads_queued_while_the_agency_is_busy_go_out_as_one_and_each_gets_its_share() -> None:
    combiner = Combiner(threading.Lock(), Gate(backstop=WAIT))
    send = Recorded()
    out = _while_busy(
        combiner,
        lambda: combiner.keyed("fetch_deals", ["1", "2"], send.keyed),
        lambda: combiner.keyed("fetch_deals", ["2", "3", "gone"], send.keyed),
        lambda: combiner.keyed("fetch_deals", ["4"], send.keyed),
    )
    assert len(send.asked) == 1
    assert sorted(send.asked[0]) == ["1", "2", "3", "4", "gone"]  # each id asked once
    assert out == [{"1": "1", "2": "2"}, {"2": "2", "3": "3"}, {"4": "4"}]
    assert (combiner.calls, combiner.merged) == (1, 2)


def test_writes_queued_together_go_out_as_one_and_each_gets_its_results_in_order() -> None:
    combiner = Combiner(threading.Lock(), Gate(backstop=WAIT))
    send = Recorded()
    out = _while_busy(
        combiner,
        lambda: combiner.positional("update_deals", ["a", "b"], send.positional),
        lambda: combiner.positional("update_deals", ["c"], send.positional),
    )
    assert len(send.asked) == 1 and sorted(send.asked[0]) == ["a", "b", "c"]
    assert sorted(out) == [["ok:a", "ok:b"], ["ok:c"]]


def test_calls_of_different_kinds_are_never_merged() -> None:
    combiner = Combiner(threading.Lock(), Gate(backstop=WAIT))
    deals, notes = Recorded(), Recorded()
    out = _while_busy(
        combiner,
        lambda: combiner.keyed("fetch_deals", ["1"], deals.keyed),
        lambda: combiner.keyed("list_notes_many", ["1"], notes.keyed),
    )
    assert deals.asked == [["1"]] and notes.asked == [["1"]]
    assert out == [{"1": "1"}, {"1": "1"}]


def test_a_combined_call_that_fails_fails_for_every_lane_in_it() -> None:
    combiner = Combiner(threading.Lock(), Gate(backstop=WAIT))
    down = Unavailable("agency down", system="bitrix24:agency")
    send = Recorded(fail=down)
    out = _while_busy(
        combiner,
        lambda: combiner.positional("update_deals", ["a"], send.positional),
        lambda: combiner.positional("update_deals", ["b"], send.positional),
    )
    assert len(send.asked) == 1
    assert out == [down, down]
    # The next call is a call of its own again.
    send.fail = None
    assert combiner.positional("update_deals", ["c"], send.positional) == ["ok:c"]


def test_an_adapter_answering_too_few_results_is_an_error_not_a_shifted_answer() -> None:
    combiner = Combiner(threading.Lock(), Gate(backstop=WAIT))
    with pytest.raises(RuntimeError, match="1 results for 2 items"):
        combiner.positional("update_deals", ["a", "b"], lambda items: ["only one"])


def test_a_read_waits_for_a_lane_still_working_through_its_read_phase() -> None:
    gate = Gate(backstop=WAIT)
    combiner = Combiner(threading.Lock(), gate)
    send = Recorded()
    other_reading, other_may_read = threading.Event(), threading.Event()

    def other_lane() -> dict[str, str]:
        with gate.reading():
            other_reading.set()
            assert other_may_read.wait(WAIT)  # decoding its partner's listing, say
            return combiner.keyed("fetch_deals", ["2"], send.keyed)

    def this_lane() -> dict[str, str]:
        assert other_reading.wait(WAIT)
        with gate.reading():
            return combiner.keyed("fetch_deals", ["1"], send.keyed)

    threads, out = _in_threads(other_lane, this_lane)
    _queued(gate, 1)  # this lane's read waits for the other lane
    assert send.asked == []
    other_may_read.set()
    _joined(threads)
    assert len(send.asked) == 1 and sorted(send.asked[0]) == ["1", "2"]
    assert out == [{"2": "2"}, {"1": "1"}]


def test_a_read_never_waits_for_a_lane_waiting_on_its_partner() -> None:
    gate = Gate(backstop=WAIT)
    combiner = Combiner(threading.Lock(), gate)
    send = Recorded()
    in_partner_call, read_done = threading.Event(), threading.Event()

    def hung_lane() -> bool:
        with gate.reading(), gate.away():  # its partner does not answer
            in_partner_call.set()
            return read_done.wait(WAIT)  # it is still waiting when the other read is done

    def this_lane() -> dict[str, str]:
        assert in_partner_call.wait(WAIT)
        with gate.reading():
            answer = combiner.keyed("fetch_deals", ["1"], send.keyed)
        read_done.set()
        return answer

    threads, out = _in_threads(hung_lane, this_lane)
    _joined(threads)
    assert out == [True, {"1": "1"}]
