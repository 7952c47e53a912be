"""Three workers on one account's budget in PostgreSQL never exceed the account's limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bridge.ratelimit import Pacer
from bridge.store.db import make_engine
from sync.runtime.shared_budget import SharedBudgets, SharedPacer, account_key, ensure_budget_table
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres

RATE, BURST = 2.0, 5  # Bitrix24's standard plan drains 2/s; a small burst keeps the test short
WORKERS, EACH = 3, 15


@pytest.fixture
def budget_db(pg_url: str) -> Iterator[str]:
    with fresh_database("pb_config_budget_") as url:
        engine = make_engine(url)
        ensure_budget_table(engine)
        ensure_budget_table(engine)  # idempotent
        engine.dispose()
        yield url


def overrun(departures: list[float], rate: float, burst: int) -> int:
    """How many requests beyond the bucket's allowance the worst window holds (0: within)."""
    times = sorted(departures)
    worst = 0
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            allowed = burst + rate * (times[j] - start) + 1e-6
            worst = max(worst, int(j - i + 1 - allowed + 0.999999))
    return worst


def _book_concurrently(engines: list[Engine]) -> list[float]:
    departures: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(engines))

    def worker(engine: Engine) -> None:
        pacer = SharedPacer(engine, "https://agency.bitrix24.ru", RATE, BURST)
        start.wait(timeout=30)
        for _ in range(EACH):
            now, wait = pacer.book()
            with lock:
                departures.append(now + wait)

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return departures


def test_three_workers_share_one_bucket(budget_db: str) -> None:
    engines = [make_engine(budget_db) for _ in range(WORKERS)]  # one connection pool each
    try:
        departures = _book_concurrently(engines)
    finally:
        for engine in engines:
            engine.dispose()
    assert len(departures) == WORKERS * EACH
    assert overrun(departures, RATE, BURST) == 0
    # paced, not merely spread: 45 requests at 2/s after a burst of 5 take ~20 s
    span = max(departures) - min(departures)
    assert span >= (WORKERS * EACH - BURST) / RATE - 0.5


def test_per_process_pacers_would_overrun_the_same_limit() -> None:
    """Today's in-process pacers, one per worker: the check above fails for them."""
    pacers = [Pacer(RATE, BURST) for _ in range(WORKERS)]
    departures: list[float] = []
    for pacer in pacers:
        for _ in range(EACH):
            wait = pacer.reserve()
            departures.append(pacer._stamp + wait)
    assert overrun(departures, RATE, BURST) >= (WORKERS - 1) * BURST


def test_a_refusal_holds_every_worker_back(budget_db: str) -> None:
    first, second = make_engine(budget_db), make_engine(budget_db)
    try:
        a = SharedPacer(first, "https://alfa.amocrm.ru", 7.0, 1)
        b = SharedPacer(second, "https://alfa.amocrm.ru", 7.0, 1)
        a.pause(30.0)  # the CRM answered 429 to worker A
        _, wait = b.book()
        assert wait > 25.0  # worker B waits too (the margin covers the time between calls)
    finally:
        first.dispose()
        second.dispose()


def test_budgets_are_keyed_by_account_never_by_secret_paths() -> None:
    key = account_key("https://agency.bitrix24.ru/rest/1/s3cr3t/")
    assert key == "https://agency.bitrix24.ru" and "s3cr3t" not in key
    budgets = SharedBudgets(make_engine("postgresql+psycopg://u@127.0.0.1:1/none"))
    same = budgets("https://agency.bitrix24.ru/rest/1/a/", 2.0, 48)
    assert budgets("https://agency.bitrix24.ru/rest/7/b/", 2.0, 48) is same
    assert budgets("https://alfa.amocrm.ru", 7.0, 1) is not same
