"""Run ``bridge run`` as a real subprocess against a sandbox world."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bridge.sandbox.world import SandboxWorld
from tests.daemon.helpers import wait_for

BRIDGE = str(Path(sys.executable).with_name("bridge"))
ADMIN_TOKEN = "admin-" + "e2e-token-0f3a9c77d1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DaemonProcess:
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    def terminate(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def _pump(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stderr is not None
    lines.extend(process.stderr)


@contextmanager
def daemon_process(world: SandboxWorld, log: list[str]) -> Iterator[DaemonProcess]:
    """Start the daemon; yield once /healthz answers; kill it if the test did not stop it."""
    port = free_port()
    env = {
        **os.environ,
        "BRIDGE_MAPPING": str(world.mapping_path),
        "BRIDGE_DB_URL": f"sqlite:///{world.directory / 'bridge.db'}",
        "BRIDGE_HTTP_PORT": str(port),
        "BRIDGE_LOG_JSON": "true",
        "BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    command = [BRIDGE, "run", "--env-file", str(world.directory / ".env")]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        pump = threading.Thread(target=_pump, args=(process, log), daemon=True)
        pump.start()
        running = DaemonProcess(process, f"http://127.0.0.1:{port}", log)
        try:
            up = wait_for(lambda: _healthy(running) or None, timeout=60, every=0.1)
            assert up, "the daemon did not come up:\n" + "".join(log[-30:])
            yield running
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)
            pump.join(10)


def _healthy(running: DaemonProcess) -> bool:
    if running.process.poll() is not None:
        raise AssertionError("the daemon exited:\n" + "".join(running.lines[-30:]))
    try:
        return requests.get(f"{running.url}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False
