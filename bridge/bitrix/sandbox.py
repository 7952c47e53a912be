"""Placeholder until the emulator lands."""

from typing import Any


def serve_cli(**options: Any) -> None:
    raise SystemExit("this sandbox is not built yet")
