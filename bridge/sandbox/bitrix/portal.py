"""An in-memory Bitrix24 portal served over real HTTP on 127.0.0.1.

It speaks the real REST wire format (inbound-webhook URLs, ``crm.deal.*`` and
``crm.item.*``, ``batch``, 50-row pages, ``time`` blocks, the leaky bucket and
the operating-time limit, thin outbound ``ONCRMDEAL*`` events), so
fast-bitrix24 and any other client talk to it unmodified. Tests and demos also
drive it directly, as a person in the web UI would.

    with BitrixSandbox(seed="demo") as portal:
        Bitrix(portal.webhook_url, verbose=False).get_all("crm.deal.list")
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from bridge.sandbox.bitrix.app import BitrixApp
from bridge.sandbox.bitrix.core import legacy_error, parse_int
from bridge.sandbox.bitrix.events import EventHub, member_id_for
from bridge.sandbox.bitrix.limits import PLANS, LeakyBucket, OperatingMeter
from bridge.sandbox.bitrix.oauth import OAuthServer
from bridge.sandbox.bitrix.offline import OfflineQueue
from bridge.sandbox.bitrix.render import render_legacy_deal
from bridge.sandbox.bitrix.seed import SEEDS, apply_seed, bulk_deals
from bridge.sandbox.bitrix.store import Portal
from bridge.sandbox.emulator import EmulatorServer, EventOutbox, SimClock


class BitrixSandbox:
    """One emulated portal with one inbound webhook (``user``/``secret``).

    Test controls: ``server`` (calls, faults, latency), ``clock``, ``outbox.policy``
    (drop/duplicate/reorder/delay events), ``bucket`` / :meth:`set_rate_limit`,
    ``meter`` / :meth:`set_operating_limit`, ``app.denied_scopes``,
    :meth:`enable_oauth`, :meth:`rename_portal`. ``portal`` is the raw state.
    """

    def __init__(
        self,
        *,
        seed: str = "empty",
        plan: str = "standard",
        user: int = 1,
        secret: str = "sandbox-secret",  # noqa: S107 - a sandbox default, not a credential
        application_token: str = "sandbox-app-token",  # noqa: S107
        port: int = 0,
        rate_limit: bool = True,
        clock: SimClock | None = None,
    ) -> None:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; expected one of {sorted(PLANS)}")
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; expected one of {list(SEEDS)}")
        self.clock = clock or SimClock()
        self.user = user
        self.application_token = application_token
        self.outbox = EventOutbox()
        self.events = EventHub(
            self.outbox,
            application_token=application_token,
            endpoint=lambda: self.rest_url,
            member_id=member_id_for(user, secret),
            now=self.clock.time,
            offline=OfflineQueue(lambda: self.clock.now().replace(microsecond=0)),
        )
        self.portal = Portal(self.clock, self.events.emit)
        burst, per_second = PLANS[plan]
        self.bucket = LeakyBucket(burst, per_second, self.clock.time)
        self.bucket.enabled = rate_limit
        self.meter = OperatingMeter(self.clock.time)
        self.app = BitrixApp(
            self.portal,
            self.events,
            user=user,
            secret=secret,
            clock=self.clock,
            bucket=self.bucket,
            meter=self.meter,
        )
        self.server = EmulatorServer(self.app, port=port)
        self.app.count = self.server.calls.method
        self._secret = secret
        with self.portal.lock:
            apply_seed(self.portal, seed)
        self._started = False

    # ---- lifecycle -----------------------------------------------------------------

    @property
    def webhook_url(self) -> str:
        moved = self.app.moved_to or ""
        return f"{self.server.base_url}{moved}/rest/{self.user}/{self._secret}/"

    def rename_portal(self, prefix: str = "/renamed") -> str:
        """Simulate a portal address change: the old URLs answer 302 to the new one.

        The new "host" is a path prefix on the same socket; the webhook URL after
        the move is returned (and is what :attr:`webhook_url` now says).
        """
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must look like '/renamed'")
        self.app.moved_to = prefix
        return self.webhook_url

    @property
    def rest_url(self) -> str:
        """The OAuth-mode endpoint: ``/rest/`` plus an ``auth`` token in every call."""
        return f"{self.server.base_url}{self.app.moved_to or ''}/rest/"

    @property
    def oauth_token_url(self) -> str:
        return f"{self.server.base_url}{self.app.moved_to or ''}/oauth/token/"

    def enable_oauth(
        self,
        client_id: str = "local.sandbox",
        client_secret: str = "sandbox-client-secret",  # noqa: S107 - a sandbox default
    ) -> OAuthServer:
        """Accept an OAuth application besides the webhook; mint codes with the result."""
        self.app.oauth = OAuthServer(
            client_id,
            client_secret,
            member_id=self.events.member_id,
            endpoint=lambda: self.rest_url,
            now=self.clock.time,
        )
        self.events.app_auth = self.app.oauth.event_auth
        return self.app.oauth

    def start(self) -> BitrixSandbox:
        if not self._started:
            self.server.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.server.stop()
            self._started = False
        self.outbox.close()

    def __enter__(self) -> BitrixSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"BitrixSandbox(port={self.server.port}, deals={len(self.portal.deals.rows)})"

    # ---- acting as a person in the web UI --------------------------------------------

    def add_deal(self, fields: dict[str, Any]) -> str:
        with self.portal.lock:
            return str(self.portal.add_deal(fields, user_id=self.user))

    def update_deal(self, deal_id: str, fields: dict[str, Any]) -> None:
        """A person may also move the deal to another pipeline (``CATEGORY_ID``)."""
        with self.portal.lock:
            self.portal.update_deal(_deal_id(deal_id), fields, user_id=self.user, allow_move=True)

    def delete_deal(self, deal_id: str) -> None:
        with self.portal.lock:
            self.portal.delete_deal(_deal_id(deal_id))

    def get_deal(self, deal_id: str) -> dict[str, Any] | None:
        with self.portal.lock:
            record = self.portal.deals.rows.get(parse_int(deal_id) or 0)
            if record is None:
                return None
            return render_legacy_deal(record, self.portal.userfields)

    def deal_ids(self) -> list[str]:
        with self.portal.lock:
            return [str(i) for i in sorted(self.portal.deals.rows)]

    def seed_deals(
        self, count: int, *, category_id: int = 1, with_contacts: bool = False
    ) -> list[str]:
        """Create ``count`` deals at once, firing no events (a data import)."""
        with self.portal.lock:
            ids = bulk_deals(self.portal, count, category_id, with_contacts, self.user)
        return [str(i) for i in ids]

    def add_category(self, name: str, *, sort: int = 500) -> int:
        """A new deal pipeline with the default stages; its id."""
        with self.portal.lock:
            return self.portal.pipelines.add_category(name, sort=sort).id

    def add_stage(self, category_id: int, name: str, semantics: str = "P") -> str:
        if semantics not in {"P", "S", "F"}:
            raise ValueError("semantics must be 'P', 'S' or 'F'")
        with self.portal.lock:
            return self.portal.pipelines.add_stage(category_id, name, semantics)

    def rename_stage(self, stage_id: str, name: str) -> None:
        with self.portal.lock:
            self.portal.pipelines.rename_stage(stage_id, name)

    def delete_stage(self, stage_id: str) -> None:
        """Refused while deals sit in the stage, as the portal's UI does."""
        with self.portal.lock:
            if any(d["STAGE_ID"] == stage_id for d in self.portal.deals.rows.values()):
                raise ValueError(f"stage {stage_id} still has deals")
            self.portal.pipelines.delete_stage(stage_id)

    def register_event_handler(self, event: str, url: str) -> None:
        self.events.bind(event, url)

    def set_rate_limit(self, burst: int, per_second: float) -> None:
        self.bucket.configure(burst, per_second)
        self.bucket.enabled = True

    def set_operating_limit(
        self,
        limit: float = 480.0,
        *,
        default_cost: float | None = None,
        costs: dict[str, float] | None = None,
    ) -> None:
        """Operating-time limit (seconds per 600 s window) and simulated seconds per call."""
        self.meter.limit = limit
        if default_cost is not None:
            self.meter.default_cost = default_cost
        self.meter.costs.update({k.lower(): v for k, v in (costs or {}).items()})


def _deal_id(deal_id: str) -> int:
    value = parse_int(deal_id)
    if value is None or value <= 0:
        raise legacy_error("ID is not defined or invalid.")
    return value


def serve_cli(*, port: int, user: int, secret: str, seed: str, plan: str) -> None:
    """``bridge sandbox bitrix24``: serve until Ctrl-C."""
    sandbox = BitrixSandbox(seed=seed, plan=plan, user=user, secret=secret, port=port)
    stop = threading.Event()
    # Ctrl-C may come as soon as the URL is out: be ready for it before printing.
    with sandbox, contextlib.suppress(KeyboardInterrupt):
        # Flushed at once: whoever started us may be waiting for the URL on a pipe.
        print(f"Bitrix24 sandbox ({seed}, {plan}) webhook: {sandbox.webhook_url}", flush=True)
        print(f"Outgoing-webhook application token: {sandbox.application_token}", flush=True)
        print("Ctrl-C to stop.", flush=True)
        stop.wait()
