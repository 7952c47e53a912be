"""``${VAR}`` references in mapping.yaml, looked up in the environment, then in ``.env``.

Credentials never sit in mapping.yaml itself; the file names the variable that
holds them. A missing variable is reported with every place that was searched,
so the admin knows where to put it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


@dataclass(frozen=True)
class Environment:
    """Variables from the process environment (first) and a ``.env`` file (second)."""

    process: Mapping[str, str]
    dotenv: Mapping[str, str] = field(default_factory=dict)
    dotenv_path: Path | None = None

    @classmethod
    def for_mapping(
        cls, mapping_path: Path, process: Mapping[str, str] | None = None
    ) -> Environment:
        """The environment as seen by a mapping file: ``.env`` next to it."""
        env_file = mapping_path.resolve().parent / ".env"
        values: dict[str, str] = {}
        if env_file.is_file():
            values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        return cls(dict(os.environ if process is None else process), values, env_file)

    def get(self, name: str) -> str | None:
        value = self.process.get(name)
        return value if value is not None else self.dotenv.get(name)

    def searched(self) -> str:
        where = "the process environment"
        if self.dotenv_path is not None:
            where += f" and {self.dotenv_path}"
        return where


def references(text: str) -> list[str]:
    """The variable names ``text`` refers to, in order."""
    return _REF.findall(text)


def is_reference(text: str) -> bool:
    """True if ``text`` is exactly one ``${VAR}`` and nothing else."""
    return bool(_WHOLE_REF.match(text.strip()))


def expand(text: str, env: Environment) -> tuple[str, list[str]]:
    """``text`` with every ``${VAR}`` replaced, and the names that were not found."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if value is None or value == "":
            missing.append(match.group(1))
            return ""
        return value

    return _REF.sub(substitute, text), missing


def missing_variable(name: str, env: Environment) -> str:
    """The message for a ``${name}`` that is set nowhere."""
    return f"environment variable {name} is not set (looked in {env.searched()}) — set {name} there"
