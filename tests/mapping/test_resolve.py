"""Resolution against in-memory CRMs seeded like the sandboxes (no HTTP here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bridge.crm import AuthError
from bridge.mapping.compiled import ConverterKind, Target
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.model import FieldDef, FieldKind
from bridge.sandbox.memory import MemoryCrm
from tests.mapping.conftest import EXAMPLE, fixed_env


def test_example_compiles_with_every_name_resolved(crms: dict[str, MemoryCrm]) -> None:
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms, fix=True)
    assert report.problems == ()
    compiled = report.compiled
    assert compiled is not None
    alfa, beta = compiled.partners["alfa"], compiled.partners["beta"]
    assert compiled.agency.routing_field_id == "UF_CRM_PARTNER"
    assert (alfa.routing_value, beta.routing_value) == ("46", "47")
    assert compiled.routed_partners(("46", "47")) == (alfa, beta)
    assert alfa.stages.to_partner["C1:WON"] == "142"
    assert alfa.stages.to_partner["C1:NEW"] == "71"
    assert "71" in alfa.stages.to_agency and alfa.stages.to_agency["71"] == "C1:PREPARATION"
    assert alfa.stages.initial_partner_stage == "71"
    assert alfa.stages.to_partner["C1:EXECUTING"] == "72"  # a list: the first one
    assert alfa.stages.to_agency["73"] == "C1:EXECUTING"  # ... and every one maps back
    assert [(w.path, w.message.split(":")[0]) for w in report.warnings] == [
        ("agency.routing_field", "routing options 'Атвинта' name no partner"),
        ("partners.alfa.stages.map", "partner stages 'Неразобранное' are not mapped back"),
        ("partners.beta.stages.map", "agency stages 'Новая' have no counterpart in this map"),
    ]
    assert [w.line for w in report.warnings] == [15, 89, 125]
    assert report.created == ("partners.alfa: created the bridge's stamp field (id 1)",)
    assert beta.stages.to_partner["C1:LOSE"] == "C3:LOSE"  # the word 'lost'
    assert alfa.stamp_field_id is not None and beta.stamp_field_id is None
    brief = next(f for f in alfa.fields if f.name == "brief")
    assert (brief.agency.field_id, brief.partner.field_id) == ("UF_CRM_BRIEF", "9001")
    assert brief.default == "Бриф не заполнен"
    rule = alfa.commission.rules[0]
    assert rule.source_field is not None and rule.source_field.field_id == "UF_CRM_PAID"
    assert str(alfa.commission.membership_fee) == "60000 RUB"


def test_deleted_partner_stage_breaks_only_that_stage(crms: dict[str, MemoryCrm]) -> None:
    crms["alfa"].delete_stage("Квалификация")
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms)
    assert report.compiled is not None
    stages = report.compiled.partners["alfa"].stages
    assert "Квалификация" in stages.broken_agency["C1:EXECUTING"].reason
    assert stages.to_partner["C1:WON"] == "142"  # the rest still syncs
    assert [p.path for p in report.problems] == ["partners.alfa.stages.map.В работе у партнёра[0]"]
    assert not report.compiled.partners["beta"].paused


def test_renamed_stage_is_suggested_first(crms: dict[str, MemoryCrm]) -> None:
    crms["alfa"].rename_stage("Квалификация", "Квалификация клиента")
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms)
    assert "existing, closest first: 'Квалификация клиента', " in report.problems[0].message


def test_missing_custom_field_drops_only_that_field_map(crms: dict[str, MemoryCrm]) -> None:
    crms["alfa"].field_list = [f for f in crms["alfa"].field_list if f.name != "Бриф"]
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms)
    assert report.compiled is not None
    alfa = report.compiled.partners["alfa"]
    assert [b.label for b in alfa.broken_fields] == ["brief"]
    assert "brief" not in [f.name for f in alfa.fields]
    assert report.problems[0].message.startswith("partner field 'Бриф' does not exist")


def test_missing_pipeline_makes_the_partner_unavailable(crms: dict[str, MemoryCrm]) -> None:
    crms["beta"].pipeline_list = [replace(p, name="Другое") for p in crms["beta"].pipeline_list]
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms)
    assert report.compiled is not None
    beta = report.compiled.partners["beta"]
    assert beta.paused and beta.unavailable is not None
    assert report.problems[0].message == (
        "pipeline 'Лиды от агентства' does not exist — existing, closest first: 'Другое'"
    )
    assert not report.compiled.partners["alfa"].paused


def test_unreachable_agency_compiles_nothing(crms: dict[str, MemoryCrm]) -> None:
    agency = crms["agency"]
    agency.faults.fail("pipelines", AuthError("token rejected", system=agency.system), times=None)
    report = resolve(load_mapping(EXAMPLE, fixed_env()), crms)
    assert report.compiled is None
    assert report.problems[0].path == "agency.webhook"
    assert "token rejected" in report.problems[0].message


def test_enum_values_resolve_to_option_ids(crms: dict[str, MemoryCrm], tmp_path: Path) -> None:
    crms["agency"].field_list.append(
        FieldDef("UF_CRM_SOURCE", "Источник", FieldKind.STRING, code="UF_CRM_SOURCE")
    )
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "      paid:                     # a partner-only",
        "      source:\n        agency: UF_CRM_SOURCE\n        partner: Источник\n"
        "        direction: to_partner\n        converter: enum\n        values:\n"
        "          web: Сайт\n          agency: Агентство\n"
        "      paid:                     # a partner-only",
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    report = resolve(load_mapping(path, fixed_env()), crms)
    assert report.problems == ()
    assert report.compiled is not None
    source = next(f for f in report.compiled.partners["alfa"].fields if f.name == "source")
    assert source.converter.kind is ConverterKind.ENUM
    assert dict(source.converter.to_partner) == {"web": "502", "agency": "501"}
    assert dict(source.converter.to_agency) == {"502": "web", "501": "agency"}
    assert source.partner.target is Target.CUSTOM


def test_converter_must_fit_the_custom_field_kind(
    crms: dict[str, MemoryCrm], tmp_path: Path
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "        converter: money\n    commission:", "        converter: date\n    commission:"
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    report = resolve(load_mapping(path, fixed_env()), crms)
    assert [p.message for p in report.problems] == [
        "converter 'date' does not fit agency field 'Оплачено' (money) — use 'money' or 'number'"
    ]


def test_won_mapped_to_an_open_stage_is_refused(crms: dict[str, MemoryCrm], tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "Сделка успешна: Успешно реализовано", "Сделка успешна: Неразобранное"
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    report = resolve(load_mapping(path, fixed_env()), crms)
    assert report.problems[0].message == (
        "agency stage 'Сделка успешна' is won but partner stage 'Неразобранное' is open — "
        "map it to 'Успешно реализовано'"
    )
