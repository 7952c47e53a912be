"""The partner-scale world's sandboxes in a process of their own, driven over stdin/stdout.

Run by :class:`benchmarks.partners.SandboxProcess`, never by hand. In production the
partner CRMs are remote; here the 200 sandboxes (the agency and every partner, each
with its own rate limit and latency) answer from this process over real sockets, so
the process that measures a pass holds the bridge alone and its CPU is the bridge's.
The world's ``mapping.yaml`` and ``.env`` are written into the directory given. One
JSON command per line in, one JSON answer per line out:

    {"cmd": "latency", "seconds": 0.1}            every account's latency per request
    {"cmd": "add_deals", "count": 400}            agency deals, round-robin → {"ids": [...]}
    {"cmd": "requests"}                           requests served per account so far
    {"cmd": "cpu"}                                this process's CPU seconds so far
    {"cmd": "edit", "deal": "12", "fields": {...}}   an agency deal edited (no webhook)
    {"cmd": "wait_title", "code": c, "deal": d, "title": t, "timeout": s}
                                                  until partner ``c``'s deal has the title
    {"cmd": "hung"}                               a server that never answers → {"url": ...}
    {"cmd": "hung_called"}                        whether anything connected to it
    {"cmd": "quit"}
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.sandboxes import opener
from benchmarks.scenarios import _partner_title
from bridge.sandbox.emulator import EmulatorServer
from bridge.sandbox.world import SandboxWorld, sandbox_world
from tests.engine.hung import HungServer  # the benchmark borrows the tests' hung server

POLL = 0.005  # seconds between two looks at a partner's deal while waiting for an edit
SERVE_POLL = 60.0  # seconds between a server thread's looks for a stop (none comes)


class Sandboxes:
    def __init__(self, world: SandboxWorld, stack: ExitStack) -> None:
        self.world = world
        self.stack = stack
        self.hung: HungServer | None = None

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "latency": self.latency,
            "add_deals": self.add_deals,
            "requests": lambda _: {"requests": self.world.requests()},
            "cpu": lambda _: {"seconds": time.process_time()},
            "edit": self.edit,
            "wait_title": lambda c: {"arrived": self.wait_title(c)},
            "hung": self.start_hung,
            "hung_called": lambda _: {
                "called": self.hung is not None and self.hung.accepted.is_set()
            },
        }
        if command["cmd"] not in commands:
            raise ValueError(f"unknown command {command['cmd']!r}")
        return commands[command["cmd"]](command)

    def latency(self, command: dict[str, Any]) -> dict[str, Any]:
        self.world.set_latency(float(command["seconds"]))
        return {}

    def add_deals(self, command: dict[str, Any]) -> dict[str, Any]:
        return {"ids": self.world.add_agency_deals(int(command["count"]))}

    def edit(self, command: dict[str, Any]) -> dict[str, Any]:
        self.world.agency.update_deal(str(command["deal"]), dict(command["fields"]))
        return {}

    def start_hung(self, command: dict[str, Any]) -> dict[str, Any]:
        if self.hung is None:
            self.hung = self.stack.enter_context(HungServer())
        return {"url": self.hung.url}

    def wait_title(self, command: dict[str, Any]) -> bool:
        code, deal, title = str(command["code"]), str(command["deal"]), str(command["title"])
        deadline = time.monotonic() + float(command["timeout"])
        while self.title(code, deal) != title:
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True

    def title(self, code: str, deal: str) -> str:
        return _partner_title(self.world, code, deal)


def main() -> None:
    """Serve until ``quit``, then leave at once: the world is in memory, and stopping 200
    servers that each wake only every ``SERVE_POLL`` s would take minutes."""
    try:
        serve(Path(sys.argv[1]), int(sys.argv[2]))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def serve(directory: Path, partners: int) -> None:
    # 201 serving threads waking every 0.05 s (the default) fight the request threads
    # for this process's GIL; here nothing stops a server before the process ends.
    EmulatorServer.poll_interval = SERVE_POLL
    with ExitStack() as stack:
        w = stack.enter_context(sandbox_world(directory, partners=partners, real_limits=True))
        # Resolved once here (as `bridge check --fix` would): the agency's pipeline and
        # routing values, which add_deals needs; the bridge resolves on its own.
        for crm in w.resolve(opener).values():
            crm.close()
        sandboxes = Sandboxes(w, stack)
        print(json.dumps({"ready": True, "kinds": w.kinds}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            print(json.dumps(sandboxes.handle(command)), flush=True)


if __name__ == "__main__":
    main()
