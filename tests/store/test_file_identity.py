"""The SQLite file is pinned: deleted or replaced under an open store, nothing is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge.store.db import Store, StoreFileLost, file_problem, make_engine
from sync.runtime.readiness import store_check


def _open(path: Path) -> Store:
    store = Store.open(f"sqlite:///{path}")
    with store.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (n INTEGER)"))
    return store


def test_an_intact_file_is_ok(tmp_path: Path) -> None:
    store = _open(tmp_path / "bridge.db")
    try:
        assert file_problem(store.engine) is None
        assert store_check(store) == "ok"
    finally:
        store.close()


def test_a_deleted_file_refuses_every_transaction_and_is_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    store = _open(path)
    try:
        for leftover in tmp_path.glob("bridge.db*"):
            leftover.unlink()
        assert file_problem(store.engine) == f"file deleted: {path}"
        assert store_check(store) == f"file deleted: {path}"
        with pytest.raises(StoreFileLost), store.transaction() as session:
            session.execute(text("INSERT INTO probe VALUES (1)"))
        store.engine.dispose()  # a fresh connection would create an empty file here
        with pytest.raises(StoreFileLost), store.transaction() as session:
            session.execute(text("INSERT INTO probe VALUES (2)"))
        assert not path.exists()
    finally:
        store.close()


def test_a_replaced_file_is_told_apart_by_its_inode(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    store = _open(path)
    try:
        shutil.copy(path, tmp_path / "copy.db")
        os.replace(tmp_path / "copy.db", path)  # same name, same content, another file
        assert store_check(store) == f"file replaced: {path}"
        with pytest.raises(StoreFileLost), store.transaction() as session:
            session.execute(text("INSERT INTO probe VALUES (1)"))
    finally:
        store.close()


def test_an_in_memory_store_has_no_file_to_lose() -> None:
    store = Store.open("sqlite://")
    try:
        assert file_problem(store.engine) is None and store_check(store) == "ok"
    finally:
        store.close()


def test_an_unreachable_postgresql_server_fails_the_check_but_has_no_file_to_lose() -> None:
    store = Store(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/pb_health_nowhere"))
    try:
        assert file_problem(store.engine) is None  # the guard never stops the daemon for it
        assert store_check(store) == "unavailable: OperationalError"
    finally:
        store.close()


def test_a_reachable_store_is_ok_on_both_backends(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        assert store_check(store) == "ok"
    finally:
        store.close()
