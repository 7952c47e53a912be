"""Process settings from the environment and ``.env``, built when asked, never at import.

Everything about *what* to sync lives in mapping.yaml; this is only *how the
process runs*: where its database and mapping are, how it logs, where it
listens. Secrets come back as :class:`Secret`. A bad value raises
:class:`SettingsInvalid` listing every problem and every place searched.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from bridge.secrets import Secret

_TRUE = {"1", "true"}
_FALSE = {"0", "false", ""}


class SettingsInvalid(Exception):
    """A setting has a value the bridge cannot use; each problem names the variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Settings:
    mapping_path: Path
    db_url: str
    log_level: str
    log_json: bool | None  # None: JSON unless stderr is a terminal
    http_host: str
    http_port: int
    public_url: str | None
    admin_token: Secret | None
    env_file: Path | None
    # Bitrix24 events older than this (by their ``ts``) are refused as replays; None: off.
    event_max_age: dt.timedelta | None = dt.timedelta(hours=1)
    # Signs console sessions and partner-cabinet links; None: derived from admin_token.
    secret_key: Secret | None = None
    # Seconds a sync pass waits on one partner's CRM in all (BRIDGE_PARTNER_DEADLINE), and
    # on a partner that missed it last time (BRIDGE_PARTNER_PROBE); see sync.lanes.
    partner_deadline: float = 30.0
    partner_probe: float = 1.0
    # Partners' lanes running at once (BRIDGE_PARTNER_CONCURRENCY), and how long a pass
    # of the embedded daemon waits for them before it ends without a late one
    # (BRIDGE_PASS_WAIT); see sync.engine.
    partner_concurrency: int = 16
    pass_wait: float = 1.0


def _source(env_file: Path | None, environ: Mapping[str, str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)  # the process wins over .env
    return values


def load_settings(
    env_file: str | Path | None = ".env", environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings now (not at import) from ``environ`` (default: the process) and ``.env``."""
    path = Path(env_file) if env_file is not None else None
    values = _source(path, environ)
    problems: list[str] = []
    log_level = values.get("BRIDGE_LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        problems.append(f"BRIDGE_LOG_LEVEL={log_level!r} — use DEBUG, INFO, WARNING or ERROR")
    port = _port(values.get("BRIDGE_HTTP_PORT", "8080"), problems)
    max_age = _seconds(values.get("BRIDGE_EVENT_MAX_AGE", "3600"), "BRIDGE_EVENT_MAX_AGE", problems)
    log_json = _flag(values.get("BRIDGE_LOG_JSON"), "BRIDGE_LOG_JSON", problems)
    deadline = _positive(values, "BRIDGE_PARTNER_DEADLINE", 30.0, problems)
    probe = _positive(values, "BRIDGE_PARTNER_PROBE", 1.0, problems)
    pass_wait = _positive(values, "BRIDGE_PASS_WAIT", 1.0, problems)
    concurrency = _count(values, "BRIDGE_PARTNER_CONCURRENCY", 16, problems)
    if problems:
        searched = f"the process environment and {path}" if path else "the process environment"
        raise SettingsInvalid([f"{p} (looked in {searched})" for p in problems])
    token = values.get("BRIDGE_ADMIN_TOKEN")
    secret_key = values.get("BRIDGE_SECRET_KEY")
    return Settings(
        mapping_path=Path(values.get("BRIDGE_MAPPING", "mapping.yaml")),
        db_url=values.get("BRIDGE_DB_URL", "sqlite:///bridge.db"),
        log_level=log_level,
        log_json=log_json,
        http_host=values.get("BRIDGE_HTTP_HOST", "127.0.0.1"),
        http_port=port,
        public_url=values.get("BRIDGE_PUBLIC_URL") or None,
        admin_token=Secret(token) if token else None,
        env_file=path,
        event_max_age=dt.timedelta(seconds=max_age) if max_age else None,
        secret_key=Secret(secret_key) if secret_key else None,
        partner_deadline=deadline,
        partner_probe=probe,
        partner_concurrency=concurrency,
        pass_wait=pass_wait,
    )


def _count(values: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    problems.append(f"{name}={raw!r} — use a whole number of 1 or more, e.g. {default}")
    return default


def _positive(values: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value > 0 and value != float("inf"):
        return value
    problems.append(f"{name}={raw!r} — use a number of seconds above 0, e.g. {default:g}")
    return default


def _seconds(raw: str, name: str, problems: list[str]) -> int:
    if raw.strip().isdigit():
        return int(raw)
    problems.append(f"{name}={raw!r} — use a whole number of seconds (0 turns the check off)")
    return 0


def _port(raw: str, problems: list[str]) -> int:
    if raw.isdigit() and 0 < int(raw) < 65536:
        return int(raw)
    problems.append(f"BRIDGE_HTTP_PORT={raw!r} — use a TCP port number, 1–65535")
    return 0


def _flag(raw: str | None, name: str, problems: list[str]) -> bool | None:
    if raw is None:
        return None
    folded = raw.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    problems.append(f"{name}={raw!r} — use true or false")
    return None
