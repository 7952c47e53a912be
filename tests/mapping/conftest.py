"""Shared pieces for mapping tests: a fixed environment and CRMs seeded like the sandboxes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping.env import Environment
from bridge.model import EnumOption, FieldDef, FieldKind, Pipeline, Semantics, Stage
from bridge.sandbox.memory import MemoryCrm

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "mapping.yaml"

ENV_VALUES = {
    "AGENCY_B24_WEBHOOK": "http://127.0.0.1:9/rest/1/agency-secret/",
    "AGENCY_B24_APP_TOKEN": "app-token-value",
    "ALFA_AMO_URL": "http://127.0.0.1:9",
    "ALFA_AMO_TOKEN": "alfa-token-value",
    "BETA_B24_WEBHOOK": "http://127.0.0.1:9/rest/1/beta-secret/",
    "BETA_B24_APP_TOKEN": "beta-app-token-value",
    "ALFA_AMO_HOOK_SECRET": "alfa-hook-secret-value",
}


def fixed_env(values: dict[str, str] | None = None) -> Environment:
    return Environment(dict(ENV_VALUES if values is None else values), {}, Path("/nowhere/.env"))


def _pipeline(pid: str, name: str, stages: list[tuple[str, str, str]]) -> Pipeline:
    built = tuple(
        Stage(sid, sname, pid, Semantics(sem), sort=10 * i)
        for i, (sid, sname, sem) in enumerate(stages)
    )
    return Pipeline(pid, name, built)


def agency_fake() -> MemoryCrm:
    """Like the agency Bitrix24 demo seed."""
    pipeline = _pipeline(
        "1",
        "Партнёрские сделки",
        [
            ("C1:NEW", "Новая", "open"),
            ("C1:PREPARATION", "Передана партнёру", "open"),
            ("C1:EXECUTING", "В работе у партнёра", "open"),
            ("C1:FINAL_INVOICE", "Договор подписан", "open"),
            ("C1:WON", "Сделка успешна", "won"),
            ("C1:LOSE", "Сделка провалена", "lost"),
        ],
    )
    options = (
        EnumOption("45", "Атвинта"),
        EnumOption("46", "Веб-Студия Альфа"),
        EnumOption("47", "Digital Бета"),
    )
    fields = [
        FieldDef("UF_CRM_PARTNER", "Партнёр", FieldKind.ENUM, True, options, "UF_CRM_PARTNER"),
        FieldDef(
            "UF_CRM_AGENCY_FEE", "Гонорар агентства", FieldKind.MONEY, code="UF_CRM_AGENCY_FEE"
        ),
        FieldDef("UF_CRM_PAID", "Оплачено", FieldKind.MONEY, code="UF_CRM_PAID"),
        FieldDef("UF_CRM_BRIEF", "Бриф", FieldKind.STRING, code="UF_CRM_BRIEF"),
    ]
    return MemoryCrm("bitrix24:agency", [pipeline], fields)


def amo_fake() -> MemoryCrm:
    """Like the partner amoCRM demo seed."""
    pipeline = _pipeline(
        "7001",
        "Партнёрские лиды",
        [
            ("70", "Неразобранное", "open"),
            ("71", "Новый лид от агентства", "open"),
            ("72", "Квалификация", "open"),
            ("73", "КП отправлено", "open"),
            ("74", "Договор", "open"),
            ("142", "Успешно реализовано", "won"),
            ("143", "Закрыто и не реализовано", "lost"),
        ],
    )
    own = _pipeline(
        "7002",
        "Собственные продажи",
        [
            ("80", "Первичный контакт", "open"),
            ("81", "Переговоры", "open"),
            ("82", "Принимают решение", "open"),
            ("142", "Успешно реализовано", "won"),
            ("143", "Закрыто и не реализовано", "lost"),
        ],
    )
    source = (EnumOption("501", "Агентство"), EnumOption("502", "Сайт"))
    fields = [
        FieldDef("9001", "Бриф", FieldKind.STRING),
        FieldDef("9002", "Источник", FieldKind.ENUM, options=source),
        FieldDef("9003", "Оплачено клиентом", FieldKind.NUMBER),
    ]
    return MemoryCrm("amocrm:alfa", [pipeline, own], fields, stamp_in_field=True)


def partner_b24_fake() -> MemoryCrm:
    pipeline = _pipeline(
        "3",
        "Лиды от агентства",
        [
            ("C3:NEW", "Новый лид", "open"),
            ("C3:PREPARATION", "Квалификация", "open"),
            ("C3:PREPAYMENT_INVOICE", "Коммерческое предложение", "open"),
            ("C3:EXECUTING", "Договор", "open"),
            ("C3:WON", "Успех", "won"),
            ("C3:LOSE", "Провал", "lost"),
        ],
    )
    fields = [FieldDef("UF_CRM_BRIEF", "Бриф", FieldKind.STRING, code="UF_CRM_BRIEF")]
    return MemoryCrm("bitrix24:beta", [pipeline], fields)


@pytest.fixture
def crms() -> dict[str, MemoryCrm]:
    return {"agency": agency_fake(), "alfa": amo_fake(), "beta": partner_b24_fake()}
