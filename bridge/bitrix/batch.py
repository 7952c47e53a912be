"""Building ``batch`` command strings and reading ``batch`` answers. Pure, no I/O.

Command keys are never numeric (a numeric-keyed ``result_error`` has been seen
to come back as a list without keys, reference §4). Values are model values
already turned into strings by :mod:`bridge.bitrix.codec`;
:func:`bridge.phpform.build` refuses Python bools outright.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.bitrix.errors import WireError
from bridge.phpform import build

MAX_COMMANDS = 50
PAGE_SIZE = 50


def command(method: str, params: Mapping[str, Any]) -> str:
    """``crm.deal.list?filter[>ID]=10&…`` for one batch entry."""
    query = build(params)
    return f"{method}?{query}" if query else method


def ref(key: str, *path: str | int) -> str:
    """A ``$result[key][…]`` placeholder the portal resolves from an earlier command."""
    return f"$result[{key}]" + "".join(f"[{p}]" for p in path)


def _as_map(value: Any) -> dict[str, Any]:
    # PHP serialises empty maps as [] (reference §4).
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class BatchReply:
    """The ``result`` block of a batch answer, with empty ``[]`` maps normalised."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, WireError] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    times: dict[str, Any] = field(default_factory=dict)
    nexts: dict[str, Any] = field(default_factory=dict)  # a list command's next ``start``

    @classmethod
    def parse(cls, payload: Mapping[str, Any]) -> BatchReply:
        block = _as_map(payload.get("result"))
        errors = {
            str(key): WireError(0, str(e.get("error") or ""), str(e.get("error_description") or ""))
            for key, e in _as_map(block.get("result_error")).items()
            if isinstance(e, Mapping)
        }
        return cls(
            results=_as_map(block.get("result")),
            errors=errors,
            totals=_as_map(block.get("result_total")),
            times=_as_map(block.get("result_time")),
            nexts=_as_map(block.get("result_next")),
        )

    def outcome(self, key: str) -> tuple[Any, WireError | None]:
        """A command's result, or its error (a command with neither failed silently)."""
        if key in self.errors:
            return None, self.errors[key]
        if key in self.results:
            return self.results[key], None
        return None, WireError(0, "", "no result for this command")
