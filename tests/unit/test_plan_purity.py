"""The planner is pure: its modules import nothing that does I/O or reads a clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sync

SYNC = Path(sync.__file__).parent
PLANNER = sorted((SYNC / "plan").glob("*.py"))
ALLOWED = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "hashlib",
    "json",
    "re",
    "types",
    "typing",
    "bridge.model",
    "bridge.mapping.compiled",
    "bridge.canonical",
    "bridge.phones",  # phonenumbers: pure metadata, no I/O
    "bridge.fx.rates",  # exchange rates as values; Babel currency digits, no I/O
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", PLANNER, ids=lambda p: p.name)
def test_planner_module_imports_only_pure_things(path: Path) -> None:
    own = {m for m in _imports(path) if m == "sync.plan" or m.startswith("sync.plan.")}
    foreign = _imports(path) - own
    assert foreign <= ALLOWED, foreign - ALLOWED


@pytest.mark.parametrize("path", PLANNER, ids=lambda p: p.name)
def test_planner_module_never_reads_the_clock(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for call in (".now(", ".utcnow(", ".today(", "time.time(", "monotonic("):
        assert call not in text, f"{path.name} calls {call}"
