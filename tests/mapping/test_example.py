"""The shipped mapping.yaml is valid, documented, and its env names match .env.example."""

from __future__ import annotations

import re

from bridge.mapping.env import references
from bridge.mapping.validate import validate_text
from tests.mapping.conftest import ENV_VALUES, EXAMPLE, REPO, fixed_env


def test_example_is_valid_without_warnings() -> None:
    spec, problems = validate_text(EXAMPLE.read_text(encoding="utf-8"), "mapping.yaml", fixed_env())
    assert problems == []
    assert spec is not None and set(spec.partners) == {"alfa", "beta"}
    assert {p.connection.kind.value for p in spec.partners.values()} == {"amocrm", "bitrix24"}


def test_example_refers_only_to_variables_listed_in_env_example() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line.split("#", 1)[0] for line in lines)  # values only, not comments
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert set(references(text)) <= listed
    assert set(references(text)) == set(ENV_VALUES)


def test_missing_variables_are_each_named_with_where_they_were_looked_for() -> None:
    _, problems = validate_text(EXAMPLE.read_text(encoding="utf-8"), "mapping.yaml", fixed_env({}))
    named = [p.message.split()[2] for p in problems]
    assert sorted(named) == sorted(ENV_VALUES)
    assert all("looked in the process environment and /nowhere/.env" in p.message for p in problems)


def test_responsible_without_a_user_table_is_a_warning_not_an_error() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "    client_name:\n",
        "    manager:\n      agency: responsible\n      partner: responsible\n"
        "      direction: to_agency\n    client_name:\n",
        1,
    )
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None
    assert [(p.warning, p.path) for p in problems] == [(True, "defaults.fields.manager")]
    assert "will not be translated" in problems[0].message
