"""The one place the amoCRM adapter touches HTTP.

:meth:`Transport.request` paces the call, sets the bearer token and the
timeout, refreshes once after a 401, retries only what is safe to retry, and
turns every failure into exactly one :mod:`bridge.crm` error through
:func:`bridge.amocrm.errors.classify`:

* timeouts / connection failures — reads: :class:`TransientError` (retried);
  non-idempotent writes: :class:`OutcomeUnknown` (never retried: the write may
  have happened; the caller looks the record up by its stamp);
* 429 — :meth:`Pacer.pause` for everyone, then :class:`RateLimited` (retried
  after the wait, if the wait is reasonable);
* 403 — :class:`AccountBlocked`, logged as an error (never retried);
* 5xx — reads: :class:`TransientError` (retried); writes: :class:`OutcomeUnknown`;
* any other status — what :func:`~bridge.amocrm.errors.classify` says (never retried).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from bridge.amocrm.errors import WireError, classify, lost
from bridge.amocrm.oauth import TokenSource
from bridge.crm import AccountBlocked, CrmError, OutcomeUnknown, RateLimited, TransientError
from bridge.ratelimit import Pacer
from bridge.secrets import Secret

log = logging.getLogger(__name__)

# 7 rps per integration (reference §3.1), enforced over a sliding second. Burst 1
# spaces requests evenly; the rate stays a little under 7 because a request is
# paced when it leaves us but counted when it arrives, and scheduling jitter
# between the two must not squeeze an eighth request into one second.
RATE = 6.6
BURST = 1
POOL = 32
CONNECT_TIMEOUT = 10.0  # seconds to open a connection; the read timeout is the client's timeout
_DATE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")

_pacers: dict[str, Pacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(account: str, rate: float = RATE, burst: int = BURST) -> Pacer:
    """The process-wide pacer of one amoCRM account (keyed by its base URL)."""
    with _pacers_lock:
        pacer = _pacers.get(account)
        if pacer is None:
            pacer = _pacers[account] = Pacer(rate, burst)
        return pacer


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    payload: Any
    server_time: dt.datetime | None


def server_time(date_header: str) -> dt.datetime | None:
    """The server's clock from ``Date``; when several were sent, the last one counts."""
    found = _DATE.findall(date_header or "")
    if not found:
        return None
    return email.utils.parsedate_to_datetime(found[-1]).astimezone(dt.UTC)


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Transport:
    """requests + tenacity for one amoCRM account. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        auth: TokenSource,
        *,
        system: str,
        pacer: Pacer,
        timeout: float,
        attempts: int = 4,
        retry_wait: float = 0.5,
        max_retry_after: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.system = system
        self.pacer = pacer
        self._auth = auth
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = wait_exponential_jitter(multiplier=retry_wait, max=10.0, jitter=retry_wait)
        self._max_retry_after = max_retry_after
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "partner-bridge"
        # One pooled connection per worker thread sharing this account.
        for scheme in ("http://", "https://"):
            self._session.mount(scheme, HTTPAdapter(pool_connections=1, pool_maxsize=POOL))
        self._settle_environment()
        self.rate_limited = 0  # 429s seen, for metrics and benchmarks
        self.requests = 0  # HTTP requests sent, for metrics and benchmarks

    def __repr__(self) -> str:
        return f"Transport(system={self.system!r}, base_url={self.base_url!r})"

    def _settle_environment(self) -> None:
        """Read once what requests would read from the environment on every request:
        the proxy for this account's host (``HTTPS_PROXY``, ``NO_PROXY``…) and a CA
        bundle (``REQUESTS_CA_BUNDLE``). Per request, it scans every variable and looks
        for a ``.netrc`` — a share of a quiet pass's CPU with hundreds of accounts. A
        ``.netrc`` entry is not used: every request carries its own bearer token."""
        settings = self._session.merge_environment_settings(self.base_url, {}, None, None, None)
        self._session.proxies = settings["proxies"]
        self._session.verify = settings["verify"]
        self._session.trust_env = False

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> Reply:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=self._log_retry,
            reraise=True,
        )
        reply: Reply = retrying(self._attempt, method, path, params, body, idempotent)
        return reply

    # --- retry policy --------------------------------------------------------

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimited):
            return exc.retry_after <= self._max_retry_after
        return isinstance(exc, TransientError) and not isinstance(exc, OutcomeUnknown)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return 0.0  # the pacer holds every thread back for retry_after already
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "amocrm.retry system=%s attempt=%d error=%s", self.system, state.attempt_number, exc
        )

    # --- one attempt ---------------------------------------------------------

    def _attempt(self, method: str, path: str, params: Any, body: Any, idempotent: bool) -> Reply:
        try:
            token = self._auth.access_token()
            response = self._send(method, path, params, body, token, idempotent)
            if response.status_code == 401:
                # A 401 means the call was refused, so even a write is safe to resend.
                token = self._auth.refresh(token)
                response = self._send(method, path, params, body, token, idempotent)
        except CrmError as exc:
            exc.system = exc.system or self.system  # token sources do not know the label
            raise
        return self._interpret(response, idempotent)

    def _send(
        self, method: str, path: str, params: Any, body: Any, token: Secret, idempotent: bool
    ) -> requests.Response:
        self.pacer.acquire()
        self.requests += 1
        try:
            return self._session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {token.reveal()}"},
                # (connect, read): a CRM that accepts and never answers is given up on.
                timeout=(min(CONNECT_TIMEOUT, self._timeout), self._timeout),
            )
        except requests.ConnectTimeout:
            raise TransientError(
                "amoCRM did not accept the connection", system=self.system
            ) from None
        except requests.RequestException as exc:
            raise self._lost(f"{method} {path}: {type(exc).__name__}", idempotent) from None

    def _lost(self, what: str, idempotent: bool) -> TransientError:
        return lost(what, system=self.system, write=not idempotent)

    def _interpret(self, response: requests.Response, idempotent: bool) -> Reply:
        status = response.status_code
        when = server_time(response.headers.get("Date", ""))
        if status == 204:
            return Reply(status, None, when)
        if 200 <= status < 300:
            try:
                return Reply(status, response.json(), when)
            except ValueError:
                raise self._lost(
                    f"HTTP {status} with a body that is not JSON", idempotent
                ) from None
        raise self._error(response, idempotent)

    def _error(self, response: requests.Response, idempotent: bool) -> CrmError:
        wire = WireError(
            response.status_code, _problem(response), response.headers.get("Retry-After")
        )
        failure = classify(wire, system=self.system, write=not idempotent)
        if isinstance(failure, RateLimited):
            self.rate_limited += 1
            self.pacer.pause(failure.retry_after)
            log.warning(
                "amocrm.rate_limited system=%s retry_after=%.1f", self.system, failure.retry_after
            )
        elif isinstance(failure, AccountBlocked):
            log.error(
                "amocrm.blocked system=%s: stop this account until an admin acts", self.system
            )
        return failure
