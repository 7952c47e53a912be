from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import SettingsInvalid, load_settings


def test_defaults_and_env_file_with_the_process_winning(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BRIDGE_DB_URL=sqlite:///x.db\nBRIDGE_ADMIN_TOKEN=from-file\n")
    settings = load_settings(env_file, {"BRIDGE_ADMIN_TOKEN": "from-process"})
    assert settings.db_url == "sqlite:///x.db"
    assert settings.admin_token is not None and settings.admin_token.reveal() == "from-process"
    assert "from-process" not in repr(settings)
    assert settings.http_port == 8080 and settings.log_json is None


def test_every_bad_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(None, {"BRIDGE_HTTP_PORT": "http", "BRIDGE_LOG_JSON": "yes please"})
    assert [p.split("=")[0] for p in caught.value.problems] == [
        "BRIDGE_HTTP_PORT",
        "BRIDGE_LOG_JSON",
    ]


def test_event_max_age_defaults_to_an_hour_and_zero_turns_it_off() -> None:
    import datetime as dt

    assert load_settings(None, {}).event_max_age == dt.timedelta(hours=1)
    assert load_settings(None, {"BRIDGE_EVENT_MAX_AGE": "0"}).event_max_age is None
    with pytest.raises(SettingsInvalid, match="BRIDGE_EVENT_MAX_AGE='an hour'"):
        load_settings(None, {"BRIDGE_EVENT_MAX_AGE": "an hour"})


def test_partner_deadlines_default_and_bad_values_name_the_variable() -> None:
    settings = load_settings(None, {})
    assert (settings.partner_deadline, settings.partner_probe) == (30.0, 1.0)
    tuned = load_settings(None, {"BRIDGE_PARTNER_DEADLINE": "12.5", "BRIDGE_PARTNER_PROBE": "2"})
    assert (tuned.partner_deadline, tuned.partner_probe) == (12.5, 2.0)
    with pytest.raises(SettingsInvalid) as bad:
        load_settings(None, {"BRIDGE_PARTNER_DEADLINE": "soon", "BRIDGE_PARTNER_PROBE": "-1"})
    assert "BRIDGE_PARTNER_DEADLINE='soon' — use a number of seconds above 0" in str(bad.value)
    assert "BRIDGE_PARTNER_PROBE='-1'" in str(bad.value)


def test_partner_lanes_and_pass_wait_default_and_bad_values_name_the_variable() -> None:
    settings = load_settings(None, {})
    assert (settings.partner_concurrency, settings.pass_wait) == (16, 1.0)
    tuned = load_settings(None, {"BRIDGE_PARTNER_CONCURRENCY": "64", "BRIDGE_PASS_WAIT": "0.5"})
    assert (tuned.partner_concurrency, tuned.pass_wait) == (64, 0.5)
    with pytest.raises(SettingsInvalid) as bad:
        load_settings(None, {"BRIDGE_PARTNER_CONCURRENCY": "0", "BRIDGE_PASS_WAIT": "later"})
    assert "BRIDGE_PARTNER_CONCURRENCY='0' — use a whole number of 1 or more" in str(bad.value)
    assert "BRIDGE_PASS_WAIT='later' — use a number of seconds above 0" in str(bad.value)
