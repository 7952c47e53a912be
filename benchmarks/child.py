"""Parent-side handles on the benchmarks' child processes (one JSON command per line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


class JsonChild:
    """``python -m <module> <args>`` driven over stdin/stdout: ``call`` sends one command
    and waits for its answer; the child's first line (``ready``) is kept."""

    def __init__(
        self, module: str, args: list[str], env: dict[str, str], log: IO[bytes] | None
    ) -> None:
        full = dict(os.environ) | env
        full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
        self.log = log
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=full,
            cwd=ROOT,
            text=True,
        )
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            where = f"; see {self.log.name}" if self.log is not None else ""
            raise RuntimeError(f"child process exited ({code}){where}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()


class BridgeProcess(JsonChild):
    """The bridge in a subprocess (:mod:`benchmarks.bridge_proc`)."""

    def __init__(
        self, mapping: Path, env: dict[str, str], db: Path, *, lifted: bool, mode: str = ""
    ) -> None:
        log = (db.parent / "bridge.log").open("ab")
        super().__init__(
            "benchmarks.bridge_proc",
            [str(mapping), f"sqlite:///{db}", mode or ("lifted" if lifted else "real")],
            env,
            None if os.environ.get("BENCH_TRACEMALLOC") else log,  # show it live
        )
        self.log = log

    def __enter__(self) -> BridgeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
