import threading

from bridge.ratelimit import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_goes_at_once_then_paces_at_rate() -> None:
    t = FakeTime()
    pacer = Pacer(rate=2.0, burst=5, clock=t.clock, sleep=t.sleep)
    waits = [pacer.acquire() for _ in range(9)]
    assert waits[:5] == [0.0] * 5
    assert all(abs(w - 0.5) < 1e-9 for w in waits[5:])
    assert abs(t.now - 1002.0) < 1e-9  # 4 paced requests at 2/s


def test_idle_time_refills_the_bucket() -> None:
    t = FakeTime()
    pacer = Pacer(rate=1.0, burst=2, clock=t.clock, sleep=t.sleep)
    pacer.acquire()
    pacer.acquire()
    t.now += 10
    assert pacer.acquire() == 0.0
    assert pacer.acquire() == 0.0


def test_pause_holds_everyone_back() -> None:
    t = FakeTime()
    pacer = Pacer(rate=10.0, burst=10, clock=t.clock, sleep=t.sleep)
    pacer.pause(3.0)
    assert pacer.acquire() >= 3.0


def test_threads_share_one_budget() -> None:
    # The clock stands still, so the waits depend only on the bookings, not on timing:
    # 40 reservations from 4 threads at 1000/s with burst 1 book 40 distinct slots.
    t = FakeTime()
    pacer = Pacer(rate=1000.0, burst=1, clock=t.clock, sleep=t.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            w = pacer.reserve()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [round(w * 1000) for w in sorted(waits)] == list(range(40))
