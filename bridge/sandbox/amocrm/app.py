"""The amoCRM sandbox as an :class:`bridge.sandbox.emulator.App`: gatekeeping, then routing.

Order of checks for ``/api/v4/...``: account block (403) → rate (429) →
payment (402) → bearer token (401) → route (404/405) → handler. The OAuth
token endpoint and the consent page sit outside the API limits.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bridge.sandbox.amocrm import complex as sandbox_complex
from bridge.sandbox.amocrm import events as sandbox_events
from bridge.sandbox.amocrm import leads_api as sandbox_leads_api
from bridge.sandbox.amocrm import meta as sandbox_meta
from bridge.sandbox.amocrm import notes as sandbox_notes
from bridge.sandbox.amocrm import parties_api as sandbox_parties_api
from bridge.sandbox.amocrm import webhooks as sandbox_webhooks
from bridge.sandbox.amocrm.http import ApiError, internal_error, not_found
from bridge.sandbox.amocrm.limits import BLOCK_PAGE, RateLimiter, Verdict
from bridge.sandbox.amocrm.oauth import TokenAuthority
from bridge.sandbox.amocrm.routes import Route, resolve
from bridge.sandbox.amocrm.store import Store
from bridge.sandbox.emulator import Request, Response

TOO_MANY = "You have sent too many requests in a given amount of time. Please try again later."
TOKEN_PATH = "/oauth2/access_token"
CONSENT_PATH = "/oauth"


def all_routes() -> list[Route]:
    # Fixed paths before templated ones, so /leads/complex never reads as /leads/{id}.
    groups: Iterable[list[Route]] = (
        sandbox_complex.ROUTES,
        sandbox_meta.ROUTES,
        sandbox_notes.ROUTES,
        sandbox_leads_api.ROUTES,
        sandbox_parties_api.ROUTES,
        sandbox_events.ROUTES,
        sandbox_webhooks.ROUTES,
    )
    return [r for group in groups for r in group]


class AmoApp:
    def __init__(self, store: Store, oauth: TokenAuthority, limiter: RateLimiter) -> None:
        self.store = store
        self.oauth = oauth
        self.limiter = limiter
        self.routes = all_routes()
        self.payment_required = False
        self.internal_errors = 0  # the next N API calls answer the 500 problem body
        self._request_ids = itertools.count(1)

    def api_method(self, request: Request) -> str:
        if request.path.startswith("/oauth"):
            return request.path.lower()
        match = resolve(self.routes, request.method, request.path)
        if match.route is not None:
            return match.route.name
        return f"{request.method.lower()} {request.path.lower()}"

    def api_method_of(self, method: str, path: str) -> str:
        """The name faults match for a request, e.g. ``"get /api/v4/leads/{id}"``."""
        return self.api_method(Request(method.upper(), path, "", {}, b""))

    def handle(self, request: Request) -> Response:
        response = self._answer(request)
        response.headers["X-Request-Id"] = f"sandbox-{next(self._request_ids)}"
        # Clients read the server's clock from Date; here it is the sandbox clock.
        response.headers["Date"] = formatdate(self.store.clock.time(), usegmt=True)
        return response

    def _answer(self, request: Request) -> Response:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self.oauth.grant(_form_or_json(request))
        if request.path == CONSENT_PATH and request.method == "GET":
            return self._consent(request)
        if not request.path.startswith("/api/v4/"):
            return not_found(request, self.store.base_url).response()
        gate = self._gate(request)
        if gate is not None:
            return gate
        return self._route(request)

    def _gate(self, request: Request) -> Response | None:
        verdict = self.limiter.check()
        if verdict == Verdict.BLOCKED:
            return Response(403, BLOCK_PAGE, {"Content-Type": "text/html"})
        if verdict == Verdict.SLOW_DOWN:
            return ApiError(429, TOO_MANY, extra={"retry_after": 300}).response()
        if self.payment_required:
            return ApiError(402, "Payment required").response()
        if not self.oauth.accepts(request.header("authorization")):
            return ApiError(401, "Invalid user name or password").response()
        return None

    def _route(self, request: Request) -> Response:
        match = resolve(self.routes, request.method, request.path)
        if match.route is None:
            if match.path_known:
                return ApiError(405, "Method Not Allowed").response()
            return not_found(request, self.store.base_url).response()
        try:
            with self.store.lock:
                if self.internal_errors > 0:
                    self.internal_errors -= 1
                    raise RuntimeError("armed internal error")
                return match.route.handler(self.store, request, match.params)
        except ApiError as error:
            return error.response()
        except Exception:  # an emulator bug must still look like the real 500
            return internal_error(str(uuid.uuid4()))

    def _consent(self, request: Request) -> Response:
        """The user clicks "Allow": redirect to the integration with a fresh code."""
        params = dict(parse_qsl(request.query_string))
        redirect_uri = params.get("redirect_uri") or self.oauth.redirect_uri
        if params.get("client_id") != self.oauth.client_id or not redirect_uri:
            body = b"Unknown integration or no redirect_uri"
            return Response(400, body, {"Content-Type": "text/plain; charset=utf-8"})
        code = self.oauth.authorize(redirect_uri)
        query = {
            "code": code,
            "state": params.get("state", ""),
            "referer": f"{self.store.subdomain}.amocrm.ru",
            "platform": "1",
            "client_id": self.oauth.client_id,
        }
        sep = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": f"{redirect_uri}{sep}{urlencode(query)}"})


def _form_or_json(request: Request) -> dict[str, Any]:
    if request.content_type == "application/json" or request.body.lstrip().startswith(b"{"):
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(request.body.decode("utf-8", "replace")))
