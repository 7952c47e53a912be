"""Wire helpers of the amoCRM sandbox: problem+json errors, HAL envelopes, paging.

Shapes follow the official examples in ``tests/fixtures/amocrm`` (errors from
the Kommo HTTP-codes page, list envelopes from the contacts page).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bridge.phpform import PhpFormError, parse
from bridge.sandbox.emulator import Request, Response

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of ``validation-errors[].errors``."""

    code: str
    path: str
    detail: str


@dataclass(slots=True)
class ApiError(Exception):
    """Raised by handlers; rendered as application/problem+json."""

    status: int
    detail: str
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        errors = self.extra.get("validation-errors") or []
        details = [f"{e['path']}: {e['detail']}" for entry in errors for e in entry["errors"]]
        return " ".join([str(self.status), self.detail, *details])

    def response(self) -> Response:
        body: dict[str, Any] = {
            "title": self.title or _TITLES.get(self.status, "Error"),
            "type": f"https://httpstatus.es/{self.status}",
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return Response.json(body, self.status, content_type=PROBLEM)


def validation_error(request_id: str, errors: Sequence[FieldError]) -> ApiError:
    """400 "Request validation failed" for one element of a batch."""
    entry = {
        "request_id": request_id,
        "errors": [{"code": e.code, "path": e.path, "detail": e.detail} for e in errors],
    }
    return ApiError(400, "Request validation failed", extra={"validation-errors": [entry]})


def invalid(request_id: str, path: str, detail: str, code: str = "InvalidType") -> ApiError:
    return validation_error(request_id, [FieldError(code, path, detail)])


def not_found(request: Request, base_url: str) -> ApiError:
    return ApiError(404, f"Cannot {request.method} {base_url}{request.path}")


def internal_error(trace_id: str) -> Response:
    body = {
        "title": "ErrInternalServer",
        "status": 500,
        "detail": "Our team are probably already working on the elimination of the problem",
        "trace_id": trace_id,
    }
    return Response.json(body, 500, content_type=PROBLEM)


def hal(payload: Any, status: int = 200) -> Response:
    return Response.json(payload, status, content_type=HAL)


def no_content() -> Response:
    return Response(204, b"", {})


def link(href: str) -> dict[str, dict[str, str]]:
    return {"self": {"href": href}}


def json_body(request: Request) -> Any:
    """The decoded JSON body; 400 "Request data can not be empty" when there is none."""
    if not request.body.strip():
        raise ApiError(400, "Request data can not be empty")
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from None
    if data in ([], {}, None):
        raise ApiError(400, "Request data can not be empty")
    return data


def json_list(request: Request, limit: int = MAX_LIMIT) -> list[dict[str, Any]]:
    """A JSON array body of objects with at most ``limit`` elements."""
    data = json_body(request)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise invalid("0", "", "This value should be of type array.")
    if len(data) > limit:
        raise ApiError(422, f"Limit {limit} per page")
    return data


def query(request: Request) -> dict[str, Any]:
    """Query string as nested PHP-style params (``filter[id][]=1`` → lists)."""
    try:
        return parse(request.query_string)
    except PhpFormError as exc:
        raise ApiError(400, str(exc)) from None


def as_list(value: Any) -> list[str]:
    """``filter[id]=5``, ``filter[id][]=5`` and ``filter[id][0]=5`` all mean a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [str(v) for v in value.values()]
    return [part for part in str(value).split(",") if part != ""]


def as_int(value: Any, path: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, f"{path} must be an integer") from None


def int_list(value: Any, path: str) -> list[int]:
    return [as_int(v, path) for v in as_list(value)]


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    limit: int

    @classmethod
    def of(cls, params: dict[str, Any], max_limit: int = MAX_LIMIT) -> Page:
        limit = as_int(params.get("limit", DEFAULT_LIMIT), "limit")
        page = as_int(params.get("page", 1), "page")
        if limit > max_limit:
            raise ApiError(422, f"Limit {max_limit} per page")
        if limit < 1 or page < 1:
            raise ApiError(400, "page and limit must be positive")
        return cls(page, limit)

    def slice(self, items: Sequence[Any]) -> list[Any]:
        start = (self.number - 1) * self.limit
        return list(items[start : start + self.limit])

    def has_next(self, total: int) -> bool:
        return self.number * self.limit < total


def page_links(request: Request, base_url: str, page: Page, total: int) -> dict[str, Any]:
    """``_links`` of a list page: self, plus next when another page exists."""
    pairs = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True)]
    pairs = [(k, v) for k, v in pairs if k not in ("page", "limit")]

    def href(number: int) -> str:
        qs = urlencode([*pairs, ("limit", str(page.limit)), ("page", str(number))])
        return f"{base_url}{request.path}?{qs}"

    links: dict[str, Any] = {"self": {"href": href(page.number)}}
    if page.has_next(total):
        links["next"] = {"href": href(page.number + 1)}
    if page.number > 1:
        links["prev"] = {"href": href(page.number - 1)}
    return links


def list_page(
    request: Request,
    base_url: str,
    name: str,
    items: Sequence[dict[str, Any]],
    page: Page,
    render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """A paged HAL list, or 204 with no body when the page is empty."""
    chunk = page.slice(items)
    if not chunk:
        return no_content()
    body = {
        "_page": page.number,
        "_links": page_links(request, base_url, page, len(items)),
        "_embedded": {name: [render(x) for x in chunk] if render else chunk},
    }
    return hal(body)
