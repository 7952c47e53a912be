"""A tiny router: ``("GET", "/api/v4/leads/{id}")`` templates to handlers.

The template (lower case, with its placeholders) doubles as the API method
name used for call counting and fault matching, e.g. ``"get /api/v4/leads/{id}"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bridge.sandbox.amocrm.store import Store
from bridge.sandbox.emulator import Request, Response

Handler = Callable[[Store, Request, dict[str, str]], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def name(self) -> str:
        return f"{self.method.lower()} {self.template}"


def route(method: str, template: str, handler: Handler) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", template)
    regex = re.sub(r"\{(\w+):str\}", r"(?P<\1>[0-9A-Za-z_-]+)", regex)
    return Route(method.upper(), template, re.compile(f"^{regex}/?$"), handler)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route | None
    params: dict[str, str]
    path_known: bool  # some route has this path (for 405 vs 404)


def resolve(routes: Iterable[Route], method: str, path: str) -> Match:
    known = False
    for candidate in routes:
        found = candidate.pattern.match(path)
        if found is None:
            continue
        known = True
        if candidate.method == method.upper():
            return Match(candidate, found.groupdict(), True)
    return Match(None, {}, known)
