"""An in-memory amoCRM (API v4) account served over HTTP on 127.0.0.1.

``AmoSandbox`` wires the parts: the store (``sandbox_store``), the HTTP app
(``sandbox_app``), OAuth (``sandbox_oauth``), limits (``sandbox_limits``),
the events feed (``sandbox_events``) and webhooks (``sandbox_webhooks``).
Tests drive it over HTTP like the real service, and change data "as a person
in the UI" through the direct methods below, which fire events and webhooks
the same way API writes do.

Controls: ``server`` (``EmulatorServer``: ``calls``, ``faults``, ``latency``;
fault ``method`` names are ``"<verb> <route template>"``, e.g.
``"post /api/v4/leads/complex"`` — see ``app.api_method_of``), ``clock``
(``SimClock``: timestamps, token expiry, rate limit), ``outbox.policy``
(drop/duplicate/reorder/delay/timeout of webhooks), ``limits`` (rate, mode,
``block_after``/``block_window``), ``webhooks.disable_after``/``disable_window``,
``payment_required``, ``arm_internal_error()``, ``store.duplicate_control``.

Where the reference leaves a choice open, the sandbox picks: date field values
are Unix seconds; ``updated_at`` is the clock's whole second (two changes in one
second share it); API writes act as the admin, direct methods as the last user;
a replayed refresh token does not revoke the pair issued for it; old access
tokens stay valid until they expire; webhook retries wait for
``deliver_due_webhooks()`` (no background timer); events are
listed newest first; a note does not move its lead's ``updated_at``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bridge.sandbox.amocrm import leads, meta, notes, parties
from bridge.sandbox.amocrm import seed as sandbox_seed
from bridge.sandbox.amocrm.app import AmoApp
from bridge.sandbox.amocrm.events import EventRecorder
from bridge.sandbox.amocrm.http import ApiError
from bridge.sandbox.amocrm.limits import RateLimiter
from bridge.sandbox.amocrm.oauth import TokenAuthority
from bridge.sandbox.amocrm.store import Record, Store
from bridge.sandbox.amocrm.webhooks import USER_AGENT, WebhookHub
from bridge.sandbox.emulator import EmulatorServer, EventOutbox, SimClock

ACCOUNT_ID = 29_000_001


# Every real integration has a registered redirect URI (the consent page uses it when the
# URL names none). ``bridge sandbox amocrm`` registers this one unless told another: the
# bridge's own callback on its default port. (In code, ``redirect_uri=None`` means "not
# registered": any redirect is accepted, which tests of other things rely on.)
DEFAULT_REDIRECT = "http://127.0.0.1:8080/oauth/amocrm/callback"


class AmoSandbox:
    """One emulated amoCRM account. Use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        seed: str = "empty",
        subdomain: str = "partner",
        port: int = 0,
        long_lived_token: str | None = None,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-client-secret",  # noqa: S107 - the sandbox's own demo secret
        redirect_uri: str | None = None,
        access_token_ttl: float = 86400,
        rate_limit: float | None = 7.0,
        clock: SimClock | None = None,
    ) -> None:
        if seed not in sandbox_seed.SEEDS:  # before any socket or thread exists
            raise ValueError(
                f"unknown seed {seed!r}; choose one of {', '.join(sandbox_seed.SEEDS)}"
            )
        self.clock = clock or SimClock()
        self.subdomain = subdomain
        self.account_id = ACCOUNT_ID
        self.client_id = client_id
        self.client_secret = client_secret
        self.long_lived_token = long_lived_token or "sandbox-llt-" + secrets.token_hex(24)
        self.store = Store(clock=self.clock, account_id=self.account_id, subdomain=subdomain)
        self.oauth = TokenAuthority(
            clock=self.clock,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            access_ttl=access_token_ttl,
            account_id=self.account_id,
        )
        self.oauth.long_lived.add(self.long_lived_token)
        self.limits = RateLimiter(clock=self.clock, rate=rate_limit)
        self.app = AmoApp(self.store, self.oauth, self.limits)
        self.server = EmulatorServer(self.app, port=port)
        self.base_url = self.server.base_url
        self.store.base_url = self.base_url
        self.oauth.api_domain = self.base_url.split("//", 1)[1]
        self.outbox = EventOutbox(headers={"User-Agent": USER_AGENT})
        self.events = EventRecorder(self.store)
        self.webhooks = WebhookHub(self.store, self.outbox)
        sandbox_seed.apply(self.store, seed)
        self.store.listeners.extend([self.events, self.webhooks])
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> AmoSandbox:
        with self._lock:
            if self._closed:
                raise RuntimeError("a stopped sandbox cannot start again; make a new one")
            if not self._started:
                self.server.start()
                self._started = True
        return self

    def stop(self) -> None:
        """Release the port and the outbox thread. Safe to call twice or without start()."""
        with self._lock:
            if self._closed:
                return
            if not self._started:
                self.server.start()  # shutdown() waits for a running loop to release the socket
            self.server.stop()
            self._started, self._closed = False, True
        self.outbox.close()

    def __enter__(self) -> AmoSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"AmoSandbox(base_url={self.base_url!r}, subdomain={self.subdomain!r})"

    # --- auth and limits -------------------------------------------------------------

    @property
    def refresh_grants(self) -> int:
        return self.oauth.refresh_grants

    def authorize(self, *, redirect_uri: str, state: str = "") -> str:
        """What the user's click on "Allow" produces: an authorization code."""
        del state  # the state only travels through the redirect (see GET /oauth)
        return self.oauth.authorize(redirect_uri)

    def consent_url(self, *, state: str = "", redirect_uri: str | None = None) -> str:
        """The consent page; a GET on it redirects (302) with ``code``, ``state``, ``referer``."""
        from urllib.parse import urlencode

        params = {"client_id": self.client_id, "state": state, "mode": "post_message"}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        return f"{self.base_url}/oauth?{urlencode(params)}"

    def issue_tokens(self) -> tuple[str, str]:
        return self.oauth.issue()

    def arm_internal_error(self, times: int = 1) -> None:
        """The next ``times`` API calls fail with the real 500 problem body, unexecuted."""
        self.app.internal_errors += times

    def deliver_due_webhooks(self) -> int:
        """Send webhook retries that are due by the sandbox clock; returns how many."""
        return self.webhooks.deliver_due()

    def unblock(self) -> None:
        self.limits.unblock()

    @property
    def blocked(self) -> bool:
        return self.limits.blocked

    @property
    def payment_required(self) -> bool:
        return self.app.payment_required

    @payment_required.setter
    def payment_required(self, value: bool) -> None:
        self.app.payment_required = value

    # --- direct access, as a person in the UI ----------------------------------------

    @property
    def ui_user_id(self) -> int:
        """The user the direct methods act as (the last user: not the API's admin)."""
        return max(self.store.users)

    @contextmanager
    def _direct(self) -> Iterator[None]:
        """Under the store lock; the API's validation errors become ``ValueError``."""
        with self.store.lock:
            try:
                yield
            except ApiError as error:
                raise ValueError(str(error)) from None

    def add_lead(self, fields: dict[str, Any]) -> int:
        """Create a lead (fires ``lead_added`` and ``add_lead`` hooks); ValueError if invalid."""
        with self._direct():
            return int(leads.create(self.store, fields, "0", self.ui_user_id)["id"])
        raise AssertionError("unreachable")  # mypy: a context manager may swallow errors

    def update_lead(self, lead_id: int, fields: dict[str, Any]) -> None:
        """Patch a lead; KeyError if it does not exist, ValueError if the patch is invalid."""
        if lead_id not in self.lead_ids():
            raise KeyError(lead_id)
        with self._direct():
            leads.update(self.store, lead_id, fields, "0", self.ui_user_id)

    def delete_lead(self, lead_id: int) -> None:
        with self.store.lock:
            leads.delete(self.store, lead_id, self.ui_user_id)

    def get_lead(self, lead_id: int) -> dict[str, Any] | None:
        with self.store.lock:
            lead = self.store.leads.get(lead_id)
            return leads.render(self.store, lead, {"contacts"}) if lead is not None else None

    def lead_ids(self) -> list[int]:
        with self.store.lock:
            return sorted(self.store.leads)

    def add_note(self, lead_id: int, text: str) -> int:
        with self.store.lock:
            note = notes.add_note(
                self.store, lead_id, {"params": {"text": text}}, "0", self.ui_user_id
            )
            return int(note["id"])

    def add_contact(self, fields: dict[str, Any]) -> int:
        with self.store.lock:
            return int(parties.add(self.store, "contacts", fields)["id"])

    def add_company(self, fields: dict[str, Any]) -> int:
        """A company as a person adds it (its ИНН in a company field, if the account has one)."""
        with self._direct():
            return int(parties.add(self.store, "companies", fields)["id"])
        raise AssertionError("unreachable")  # mypy: a context manager may swallow errors

    def seed_leads(
        self, count: int, *, pipeline_id: int | None = None, with_contacts: bool = False
    ) -> list[int]:
        """Create ``count`` leads fast, without events or webhooks."""
        ids = []
        with self.store.lock:
            pipeline = pipeline_id or self.store.main_pipeline()["id"]
            for n in range(count):
                data: dict[str, Any] = {
                    "name": f"Сделка {n + 1}",
                    "price": 1000 * (n + 1),
                    "pipeline_id": pipeline,
                }
                if with_contacts:
                    contact = parties.add(self.store, "contacts", _seed_contact(n))
                    data["_embedded"] = {"contacts": [{"id": contact["id"], "is_main": True}]}
                ids.append(
                    int(
                        leads.create(self.store, data, str(n), self.store.admin_id, quiet=True)[
                            "id"
                        ]
                    )
                )
        return ids

    # --- structure -------------------------------------------------------------------

    def pipeline_id(self, name: str) -> int:
        with self.store.lock:
            for pipe in self.store.pipelines.values():
                if pipe["name"] == name:
                    return int(pipe["id"])
        raise KeyError(name)

    def status_id(self, pipeline_id: int, name: str) -> int:
        with self.store.lock:
            for status in self.store.pipelines[pipeline_id]["statuses"]:
                if status["name"] == name:
                    return int(status["id"])
        raise KeyError(name)

    def field_id(self, name: str, entity: str = "leads") -> int:
        with self.store.lock:
            for definition in self.store.fields[entity].values():
                if definition["name"] == name:
                    return int(definition["id"])
        raise KeyError(name)

    def add_field(self, entity: str, spec: dict[str, Any]) -> int:
        with self.store.lock:
            from bridge.sandbox.amocrm import fields as cf

            return int(cf.define(self.store, entity, spec)["id"])

    def add_status(self, pipeline_id: int, name: str) -> int:
        with self.store.lock:
            return meta.add_status(self.store, pipeline_id, name)

    def rename_status(self, pipeline_id: int, status_id: int, name: str) -> None:
        with self.store.lock:
            meta.rename_status(self.store, pipeline_id, status_id, name)

    def delete_status(self, pipeline_id: int, status_id: int) -> None:
        """Remove a stage; its leads move to the pipeline's first stage (a change each)."""
        with self.store.lock:
            meta.remove_status(self.store, pipeline_id, status_id)
            target = self.store.first_status(pipeline_id)
            for lead in list(self.store.leads.values()):
                if lead["pipeline_id"] == pipeline_id and lead["status_id"] == status_id:
                    moved: Record = dict(lead, status_id=target)
                    self.store.touch(moved, self.ui_user_id)
                    leads.commit_update(self.store, moved, self.ui_user_id)


def _seed_contact(n: int) -> dict[str, Any]:
    return {
        "name": f"Клиент {n + 1}",
        "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": f"+7 900 {n:07d}", "enum_code": "MOB"}]}
        ],
    }


def cli_sandbox(
    *,
    seed: str,
    subdomain: str,
    port: int,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    redirect_uri: str | None,
) -> AmoSandbox:
    """The sandbox ``bridge sandbox amocrm`` serves: an integration with a registered redirect."""
    return AmoSandbox(
        seed=seed,
        subdomain=subdomain,
        port=port,
        long_lived_token=token,
        client_id=client_id or "sandbox-client",
        client_secret=client_secret or "sandbox-client-secret",
        redirect_uri=redirect_uri or DEFAULT_REDIRECT,
    )


def serve_cli(
    *,
    port: int,
    subdomain: str,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    seed: str,
    redirect_uri: str | None = None,
) -> None:
    """``bridge sandbox amocrm``: serve until Ctrl-C, printing how to connect."""
    sandbox = cli_sandbox(
        seed=seed,
        subdomain=subdomain,
        port=port,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
    )
    sandbox.start()
    lines = [
        f"amoCRM sandbox ({seed}) for account '{subdomain}' at {sandbox.base_url}",
        f"  long-lived token : {sandbox.long_lived_token}",
        f"  client_id        : {sandbox.client_id}",
        f"  client_secret    : {sandbox.client_secret}",
        f"  token endpoint   : {sandbox.base_url}/oauth2/access_token",
        f"  redirect URI     : {sandbox.oauth.redirect_uri} (registered; --redirect-uri)",
        f"  consent page     : {sandbox.consent_url(state='demo')}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
