"""A second daemon on the same SQLite file refuses to start; a crash leaves no stale lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.runtime.single import AlreadyRunning, DaemonLock

HOLD = """
import sys, time
from sync.runtime.single import DaemonLock
lock = DaemonLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def test_second_daemon_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with pytest.raises(AlreadyRunning, match=rf"pid {holder.pid}\).*bridge.db"):
                DaemonLock(url).acquire()
        finally:
            holder.kill()
    # killed, not stopped: the kernel released the lock
    with DaemonLock(url):
        pass


def test_postgres_urls_take_no_file_lock() -> None:
    lock = DaemonLock("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert lock.path is None
    with lock, DaemonLock("postgresql+psycopg://postgres@127.0.0.1:5432/test"):
        pass
