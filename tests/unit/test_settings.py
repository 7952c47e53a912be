"""Settings for every command: where values come from and what relative paths are relative to."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import SettingsInvalid
from sync.runtime.settings import load_settings, resolve_db_url


def test_relative_paths_follow_the_settings_file_not_the_current_directory(
    tmp_path: Path,
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / ".env").write_text("BRIDGE_DB_URL=sqlite:///data/b.db\nBRIDGE_MAPPING=m.yaml\n")

    resolved = load_settings(project / ".env", cwd=elsewhere, environ={})

    assert resolved.base == project.resolve()
    assert resolved.db_url == f"sqlite:///{project.resolve() / 'data' / 'b.db'}"
    assert resolved.mapping_path == project.resolve() / "m.yaml"
    assert "data/b.db" in resolved.describe() and "m.yaml" in resolved.describe()


def test_the_default_store_sits_next_to_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BRIDGE_LOG_LEVEL=INFO\n")
    other = tmp_path / "sub"
    other.mkdir()
    resolved = load_settings(Path("../.env"), cwd=other, environ={})
    assert resolved.db_url == f"sqlite:///{tmp_path.resolve() / 'bridge.db'}"
    assert resolved.env_file == (tmp_path / ".env").resolve()


def test_without_a_settings_file_the_base_is_the_current_directory(tmp_path: Path) -> None:
    resolved = load_settings(None, cwd=tmp_path, environ={})
    assert resolved.env_file is None
    assert resolved.db_url == f"sqlite:///{tmp_path.resolve() / 'bridge.db'}"
    assert resolved.mapping_path == tmp_path.resolve() / "mapping.yaml"


def test_dotenv_in_the_current_directory_is_read_and_the_process_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BRIDGE_DB_URL=sqlite:///from-file.db\nBRIDGE_HTTP_PORT=9000\n")
    resolved = load_settings(None, cwd=tmp_path, environ={"BRIDGE_HTTP_PORT": "9100"})
    assert resolved.db_url.endswith("/from-file.db")
    assert resolved.settings.http_port == 9100


def test_a_missing_env_file_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid, match=r"--env-file .*nope\.env: no such file"):
        load_settings(tmp_path / "nope.env", cwd=tmp_path, environ={})


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/bridge.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://bridge:secret@db:5432/bridge",
    ],
)
def test_absolute_memory_and_server_urls_are_left_alone(url: str) -> None:
    assert resolve_db_url(url, Path("/base")) == url


def test_a_bad_url_names_the_variable() -> None:
    with pytest.raises(SettingsInvalid, match="BRIDGE_DB_URL='not a url'"):
        resolve_db_url("not a url", Path("/base"))


def test_the_store_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://bridge:s3cret@db:5432/bridge"
    resolved = load_settings(None, cwd=tmp_path, environ={"BRIDGE_DB_URL": url})
    assert resolved.db_url == url  # the real URL is used …
    assert "s3cret" not in resolved.describe() and "bridge:***@db" in resolved.describe()
