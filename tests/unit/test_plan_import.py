"""The pure planner is pure at import: ``import sync.plan`` loads no I/O or config library.

Checked in a fresh interpreter, because this test process has long since imported
the database and web libraries for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "yaml", "requests", "pydantic", "fastapi")

PROBE = f"""
import json, sys
import sync.plan
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def _loaded_after(module_code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", module_code], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_importing_the_planner_loads_no_heavy_library() -> None:
    assert _loaded_after(PROBE) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The same probe after ``import bridge.store.db`` reports the database libraries."""
    loaded = _loaded_after(PROBE.replace("import sync.plan", "import sync.plan, bridge.store.db"))
    assert {"sqlalchemy", "sqlmodel"} <= {m.split(".")[0] for m in loaded}  # Alembic: lazily
