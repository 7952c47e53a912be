"""CRM rate budgets shared by every bridge process on one PostgreSQL database.

In one process each CRM account has one :class:`~bridge.ratelimit.Pacer`. Several
workers on several machines would each have their own and together exceed the
account's limit (Bitrix24: 2 requests/s, burst 50, per portal). Here the leaky
bucket lives in a row per account (``bridge_rate_budget``); every request books
its slot with one ``UPDATE … RETURNING`` that holds the row lock for the length
of the statement, using the database's clock, so N workers together never send
faster than one would. A 503/429 (:meth:`SharedPacer.pause`) holds every worker
back, not only the one that was refused.

The table is the runtime's, not the store's: it exists only on PostgreSQL and is
created by :func:`ensure_budget_table` (idempotent, under an advisory lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from bridge.logs import log_event
from bridge.ratelimit import Pacer

log = logging.getLogger(__name__)

# Advisory-lock key for the runtime's own DDL (any fixed bigint, distinct from migrations).
DDL_LOCK = 0x7062_6275_6467  # "pbbudg"

CREATE = """
CREATE TABLE IF NOT EXISTS bridge_rate_budget (
    account TEXT PRIMARY KEY,
    level DOUBLE PRECISION NOT NULL DEFAULT 0,
    stamp TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    paused_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch'
)
"""
ENSURE_ROW = """
INSERT INTO bridge_rate_budget (account) VALUES (:account) ON CONFLICT (account) DO NOTHING
"""
# Drain the bucket for the time since the last booking, add this request, and say
# when it may leave. RETURNING sees the new row: level is the bucket after booking.
BOOK = """
UPDATE bridge_rate_budget SET
    level = greatest(
        0, level - greatest(0, extract(epoch FROM clock_timestamp() - stamp)) * :rate
    ) + 1,
    stamp = greatest(stamp, clock_timestamp())
WHERE account = :account
RETURNING
    extract(epoch FROM stamp) AS now,
    greatest(0, (level - :burst) / :rate, extract(epoch FROM paused_until - stamp)) AS wait
"""
PAUSE = """
UPDATE bridge_rate_budget SET
    level = greatest(
        :burst,
        greatest(0, level - greatest(0, extract(epoch FROM clock_timestamp() - stamp)) * :rate)
    ),
    stamp = greatest(stamp, clock_timestamp()),
    paused_until = greatest(paused_until, clock_timestamp() + make_interval(secs => :seconds))
WHERE account = :account
"""


def ensure_budget_table(engine: Engine) -> None:
    """Create the budget table if missing; safe when many processes start at once."""
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK})
        connection.execute(text(CREATE))


class SharedPacer(Pacer):
    """A :class:`Pacer` whose bucket is a PostgreSQL row shared by every process.

    If the database cannot be reached the pacer falls back to its in-process bucket
    (and says so once), so a database hiccup slows the bridge down, never stops it.
    """

    def __init__(
        self,
        engine: Engine,
        account: str,
        rate: float,
        burst: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(rate, burst, sleep=sleep)
        self.engine = engine
        self.account = account
        self._row_ready = False
        self._degraded = False

    def book(self) -> tuple[float, float]:
        """Book one request slot: (database time now, seconds to wait before sending)."""
        params = {"account": self.account, "rate": self.rate, "burst": float(self.burst)}
        with self.engine.begin() as connection:
            if not self._row_ready:
                connection.execute(text(ENSURE_ROW), {"account": self.account})
            row = connection.execute(text(BOOK), params).one()
        self._row_ready = True
        return float(row.now), float(row.wait)

    def reserve(self) -> float:
        try:
            _, wait = self.book()
        except SQLAlchemyError as exc:
            self._fell_back(exc)
            return super().reserve()
        with self._lock:
            self.waited += wait
        return wait

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        params = {
            "account": self.account,
            "rate": self.rate,
            "burst": float(self.burst),
            "seconds": float(seconds),
        }
        try:
            with self.engine.begin() as connection:
                if not self._row_ready:
                    connection.execute(text(ENSURE_ROW), {"account": self.account})
                connection.execute(text(PAUSE), params)
        except SQLAlchemyError as exc:
            self._fell_back(exc)

    def _fell_back(self, exc: Exception) -> None:
        if not self._degraded:
            self._degraded = True
            log_event(
                log,
                "budget.local_fallback",
                logging.WARNING,
                account=self.account,
                error=type(exc).__name__,
            )


def account_key(url: str) -> str:
    """The budget row of a CRM account: scheme and host of its URL (never a secret path)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


class SharedBudgets:
    """One :class:`SharedPacer` per account in this process (the ``pacers`` hook of open_crm)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pacers: dict[str, SharedPacer] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str, rate: float, burst: int) -> Pacer:
        key = account_key(url)
        with self._lock:
            pacer = self._pacers.get(key)
            if pacer is None:
                pacer = self._pacers[key] = SharedPacer(self.engine, key, rate, burst)
            return pacer
