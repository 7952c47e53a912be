"""Numbers an operator sets in the environment: a bad value says so in one line."""

from __future__ import annotations

import os
from collections.abc import Mapping


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from the environment; a bad value says so in one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds; set e.g. {name}=30") from None
    if not value > 0:
        raise ValueError(f"{name}={raw!r} must be more than 0 seconds; set e.g. {name}=30")
    return value


def whole_from_env(
    name: str, default: int, unit: str, environ: Mapping[str, str] | None = None
) -> int:
    """A whole number of ``unit`` (1 or more) from ``environ`` (the process's by default);
    a bad value says so in one line."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"{name}={raw!r} is not a whole number of {unit} of 1 or more; "
            f"set e.g. {name}={default}"
        )
    return int(raw)


__all__ = ["seconds_from_env", "whole_from_env"]
