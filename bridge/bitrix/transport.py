"""The one place the Bitrix24 adapter talks HTTP: fast-bitrix24 on a private loop.

Decisions, each answering a trap in reference §13:

* **No stacked retries.** fast-bitrix24 re-sends on 5xx, connection errors and
  timeouts, up to 10 times, whole batches included (duplicates after a lost
  answer). Our aiohttp session carries a middleware that turns every such
  failure into an exception fast-bitrix24 does not retry, so each call is
  exactly one HTTP request. The only retry left is ours, and only for
  ``QUERY_LIMIT_EXCEEDED``, which the portal refuses before running anything.
* **Error bodies are read.** fast-bitrix24's own session raises before reading
  the body; the middleware reads it, so codes like ``INVALID_CREDENTIALS`` and
  ``OPERATION_TIME_LIMIT`` are told apart by code, not by status.
* **Always ``call(raw=True)``** (list methods and ``batch``): :meth:`Transport.request`
  makes one JSON POST through the library, the whole answer back, no hidden
  batching, no bool-to-``"True"`` rewriting.
* **No sync wrapper.** ``fast_bitrix24.Bitrix`` returns a Task instead of a result
  inside a running loop; we drive ``BitrixAsync`` on a private event-loop thread,
  so blocking callers work the same from any thread, with or without a loop.
* **One judge of the operating-time limit.** fast-bitrix24's per-method window
  (kept on: turning it off raises ``KeyError`` on answers carrying ``operating``)
  adds up ``operating`` values that are already running totals and then sleeps
  up to 10 minutes; its limit is set out of reach, and
  :class:`~bridge.bitrix.budget.OperatingBudget`, which reads
  ``operating_reset_at`` and also sees commands inside batches, decides instead.
* **Secrets.** fast-bitrix24 logs full requests at DEBUG and its exceptions hold
  the webhook URL; its logger is held at WARNING, library exceptions are never
  chained into ours, and every server text passes through ``redact``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any, Final, TypeVar

import aiohttp
from fast_bitrix24 import BitrixAsync

from bridge.bitrix.batch import MAX_COMMANDS, BatchReply
from bridge.bitrix.budget import OperatingBudget
from bridge.bitrix.errors import QUERY_LIMIT, WireError, classify, lost
from bridge.crm import CrmError, RateLimited
from bridge.ratelimit import Pacer
from bridge.secrets import Secret

log = logging.getLogger(__name__)
T = TypeVar("T")

RATE_LIMIT_RETRIES: Final = 3
MAX_BUDGET_WAIT: Final = 30.0
OPERATION_BLOCK: Final = 60.0  # one 1-minute basket of the 10-minute window
_LOOP_SLACK: Final = 60.0
_LIBRARY_OPERATING_LIMIT: Final = 10**9  # see the module docstring
# fast-bitrix24's bucket counts *answers* and waits 1/rate after the last one, which
# adds the round-trip time to every paced interval; as a backstop behind the Pacer
# (which mirrors the portal's bucket) it runs looser so it never binds first.
_LIBRARY_RATE_SLACK: Final = 4.0


# Bitrix24's leaky bucket per plan: (drain per second, burst) — reference §3.1.
PLANS = {"standard": (2.0, 50), "enterprise": (5.0, 250)}
# The portal counts arrivals, the Pacer counts departures; a few slots of headroom
# absorb network jitter so a full bucket is never overrun by an early arrival.
JITTER_SLOTS = 2
CONNECT_TIMEOUT = 10.0  # seconds to open a connection; the whole call has the client's timeout


def pacer_for(plan: str = "standard") -> Pacer:
    """A Pacer mirroring one portal plan's request budget, with jitter headroom."""
    rate, burst = PLANS[plan]
    return Pacer(rate=rate, burst=burst - JITTER_SLOTS)


class _HttpFailure(Exception):
    """Raised inside the session; not one of the errors fast-bitrix24 retries."""

    def __init__(self, error: WireError) -> None:
        super().__init__(error.status)
        self.error = error


class _Lost(Exception):
    """No readable answer. ``sent`` is False only when the connection never opened."""

    def __init__(self, *, sent: bool) -> None:
        super().__init__("lost")
        self.sent = sent


def _wire_error(status: int, body: bytes) -> WireError:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return WireError(status)
    if not isinstance(payload, Mapping):
        return WireError(status)
    return WireError(
        status, str(payload.get("error") or ""), str(payload.get("error_description") or "")
    )


async def _classifying_middleware(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Read every answer whole; turn failures into non-retried exceptions."""
    try:
        response = await handler(request)
        body = await response.read()
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise _Lost(sent=False) from None
    except (aiohttp.ClientError, TimeoutError):
        raise _Lost(sent=True) from None
    if response.status >= 300:
        raise _HttpFailure(_wire_error(response.status, body))
    if response.content_type != "application/json":
        raise _Lost(sent=True)
    return response


def _methods_of(method: str, params: Mapping[str, Any]) -> list[str]:
    if method != "batch":
        return [method]
    commands = params.get("cmd") or {}
    return [str(c).split("?", 1)[0].lower() for c in commands.values()]


class Transport:
    """Blocking Bitrix24 calls over one webhook, paced, each mapped to one outcome."""

    def __init__(self, webhook_url: Secret, *, system: str, pacer: Pacer, timeout: float) -> None:
        logging.getLogger("fast_bitrix24").setLevel(logging.WARNING)
        self.system = system
        self.pacer = pacer
        self.budget = OperatingBudget()
        self._sent = itertools.count(1)
        self.requests = 0
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"bitrix24-http:{system}", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._session, self._bitrix = self._run(self._open(webhook_url.reveal()))

    async def _open(self, webhook: str) -> tuple[aiohttp.ClientSession, Any]:
        session = aiohttp.ClientSession(
            # Connect, each read and the whole call are bounded: a CRM that accepts
            # connections and never answers is given up on.
            timeout=aiohttp.ClientTimeout(
                total=self._timeout,
                sock_connect=min(CONNECT_TIMEOUT, self._timeout),
                sock_read=self._timeout,
            ),
            middlewares=(_classifying_middleware,),
        )
        bitrix = BitrixAsync(
            webhook,
            verbose=False,
            respect_velocity_policy=True,
            request_pool_size=int(self.pacer.burst),
            requests_per_second=float(self.pacer.rate) * _LIBRARY_RATE_SLACK,
            operating_time_limit=_LIBRARY_OPERATING_LIMIT,
            client=session,
        )
        return session, bitrix

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self._timeout + _LOOP_SLACK)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise _Lost(sent=True) from None

    # --- the choke point ---------------------------------------------------------

    def request(
        self, method: str, params: Mapping[str, Any], *, write: bool = False
    ) -> dict[str, Any]:
        """One API call (``batch`` included): the whole answer, or one ``CrmError``."""
        if self._closed:
            raise RuntimeError("this Bitrix24 client is closed")
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return self._attempt(method, params, write=write)
            except RateLimited as exc:
                if exc.code != QUERY_LIMIT or attempt == RATE_LIMIT_RETRIES:
                    raise
                log.warning("bitrix24.rate_limited", extra={"system": self.system})
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, method: str, params: Mapping[str, Any], *, write: bool) -> dict[str, Any]:
        self._respect_budget(_methods_of(method, params))
        self.pacer.acquire()
        self.requests = next(self._sent)
        try:
            answer = self._run(self._bitrix.call(method, dict(params), raw=True))
        except _HttpFailure as failure:
            raise self._failed(method, failure.error, write=write) from None
        except _Lost as gone:
            raise lost(system=self.system, write=write, sent=gone.sent) from None
        except (aiohttp.ClientError, RuntimeError, TimeoutError, ValueError) as exc:
            # Anything else from the library; its text may hold the URL, so drop it.
            log.warning("bitrix24.client_failure", extra={"error_type": type(exc).__name__})
            raise lost(system=self.system, write=write, sent=True) from None
        if not isinstance(answer, dict):
            raise lost(system=self.system, write=write, sent=True)
        if "error" in answer and "result" not in answer:
            raise self._failed(method, _wire_error(200, _json_bytes(answer)), write=write)
        self.budget.record(method.lower(), answer.get("time"))
        return answer

    def _failed(self, method: str, error: WireError, *, write: bool) -> CrmError:
        if error.upper == QUERY_LIMIT:
            # The whole portal's bucket is full: everyone waits, then the call is retried.
            retry_after = max(1.0, 2.0 / self.pacer.rate)
            self.pacer.pause(retry_after)
        else:
            # Only this method is blocked (429); the portal gives no reset time here.
            retry_after = OPERATION_BLOCK
        failure = classify(error, system=self.system, write=write, retry_after=retry_after)
        if isinstance(failure, RateLimited) and error.upper != QUERY_LIMIT:
            self.budget.block(method, retry_after)
        return failure

    def _respect_budget(self, methods: list[str]) -> None:
        wait = self.budget.wait_for(methods)
        if wait <= 0:
            return
        if wait > MAX_BUDGET_WAIT:
            raise RateLimited(
                "method near its operating-time limit",
                retry_after=wait,
                system=self.system,
                code="OPERATING_BUDGET",
            )
        time.sleep(wait)

    def batch(
        self, commands: Mapping[str, str], *, halt: bool = False, write: bool = False
    ) -> tuple[BatchReply, dict[str, Any]]:
        """One ``batch`` request of at most 50 commands: per-command results and ``time``."""
        if not 0 < len(commands) <= MAX_COMMANDS:
            raise ValueError(f"a batch holds 1..{MAX_COMMANDS} commands, got {len(commands)}")
        answer = self.request(
            "batch", {"halt": 1 if halt else 0, "cmd": dict(commands)}, write=write
        )
        reply = BatchReply.parse(answer)
        self.budget.record_batch(commands, reply.times)
        time_block = answer.get("time")
        return reply, dict(time_block) if isinstance(time_block, Mapping) else {}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._session.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload).encode()
