"""Responsible-user tables name people; `bridge check` turns names into each CRM's ids."""

from __future__ import annotations

from bridge.mapping.resolve import resolve
from bridge.mapping.spec import MappingSpec
from bridge.mapping.validate import validate_text
from bridge.model import User
from bridge.sandbox.memory import MemoryCrm
from tests.mapping.conftest import EXAMPLE, fixed_env

OWNER = """      owner:
        agency: responsible
        partner: responsible
        direction: to_partner
        converter: user
        values:
          Анна Смирнова: oleg@alfa.example
          "7": Мария Иванова
"""


def _spec(owner: str = OWNER) -> MappingSpec:
    anchor = "    fields:\n      paid:"  # partner alfa's own field maps
    text = EXAMPLE.read_text("utf-8").replace(anchor, "    fields:\n" + owner + "      paid:", 1)
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None, problems
    return spec


def _crms(crms: dict[str, MemoryCrm]) -> dict[str, MemoryCrm]:
    crms["agency"].user_list = [
        User("1", "Анна Смирнова", "anna@agency.example"),
        User("7", "Пётр Орлов"),
    ]
    crms["alfa"].user_list = [
        User("501", "Олег Ковалёв", "Oleg@Alfa.example"),
        User("502", "Мария Иванова"),
    ]
    return crms


def test_users_are_resolved_by_name_email_or_id(crms: dict[str, MemoryCrm]) -> None:
    report = resolve(_spec(), _crms(crms), fix=True)
    assert report.problems == ()
    assert report.compiled is not None
    owner = next(f for f in report.compiled.partners["alfa"].fields if f.name == "owner")
    assert dict(owner.converter.to_partner) == {"1": "501", "7": "502"}
    assert dict(owner.converter.to_agency) == {"501": "1", "502": "7"}


def test_an_unknown_user_is_named_with_the_closest_existing_ones(
    crms: dict[str, MemoryCrm],
) -> None:
    typo = OWNER.replace("Мария Иванова", "Мария Иваново")
    report = resolve(_spec(typo), _crms(crms), fix=True)
    (problem,) = report.problems
    assert problem.path.startswith("partners.alfa.fields.owner.values")
    assert (
        "partner user 'Мария Иваново' does not exist — existing, closest first: 'Мария Иванова'"
        in (problem.message)
    )
