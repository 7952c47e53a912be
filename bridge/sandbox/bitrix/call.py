"""One API call as the method handlers see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.sandbox.bitrix.core import Result, legacy_error, param, parse_int

if TYPE_CHECKING:
    from bridge.sandbox.bitrix.events import EventHub
    from bridge.sandbox.bitrix.store import Portal


@dataclass(frozen=True, slots=True)
class Call:
    portal: Portal
    events: EventHub
    user_id: int
    params: dict[str, Any]
    oauth: bool = False  # made by an OAuth application rather than the inbound webhook

    def get(self, name: str, default: Any = None) -> Any:
        return param(self.params, name, default)

    def dict_param(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        if value in (None, ""):
            return {}
        if isinstance(value, list):
            return {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise legacy_error(f"Parameter '{name}' must be array.")
        return value

    def id_param(self, name: str = "id") -> int:
        value = parse_int(self.get(name))
        if value is None or value <= 0:
            raise legacy_error("ID is not defined or invalid.")
        return value


Handler = Callable[[Call], Result]
