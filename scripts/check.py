"""The one check command: lint, format, types, import contracts, Dockerfile lint, tests.

Same locally and in CI. The import contracts (``[tool.importlinter]`` in
``pyproject.toml``) keep the layering honest: ``sync`` above ``bridge``, no product
module on the CRM emulators, the two adapters independent, the planner free of I/O
libraries. deptry (``[tool.deptry]``) checks that every package the code imports is
declared: the product's in [project] dependencies, the tests' in those or the dev extra.

Usage: python scripts/check.py [pytest args...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
# Tests may import the dev extra (DEP004) and need not import every dependency (DEP002);
# deptry skips tests/ unless --exclude replaces its default list.
DEV_CODE = ["tests", "benchmarks", "scripts", "--exclude", r"\.venv", "--ignore", "DEP002,DEP004"]

STEPS: list[tuple[str, list[str]]] = [
    ("ruff lint", [PY, "-m", "ruff", "check", "."]),
    ("ruff format", [PY, "-m", "ruff", "format", "--check", "."]),
    ("mypy --strict", [PY, "-m", "mypy", "bridge", "sync", "tests", "benchmarks", "scripts"]),
    ("import contracts", [str(BIN / "lint-imports"), "--no-cache"]),
    ("declared imports: product", [str(BIN / "deptry"), "bridge", "sync"]),
    ("declared imports: tests, benchmarks, scripts", [str(BIN / "deptry"), *DEV_CODE]),
    ("hadolint", [str(BIN / "hadolint"), "Dockerfile"]),
]


def main() -> int:
    for name, command in STEPS:
        print(f"== {name}", flush=True)
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            print(f"check failed at: {name}", flush=True)
            return 1
    print("== pytest", flush=True)
    return subprocess.run([PY, "-m", "pytest", *sys.argv[1:]], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
