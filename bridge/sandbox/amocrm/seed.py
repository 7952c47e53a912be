"""Initial data of the sandbox: ``empty`` (a fresh account) and ``demo`` (a partner agency).

Deterministic: the same seed gives the same ids, names and values; only the
timestamps follow the sandbox clock.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.amocrm import fields as cf
from bridge.sandbox.amocrm import leads, meta, parties
from bridge.sandbox.amocrm.store import LOST, WON, Store

SEEDS = ("empty", "demo")
PARTNER_PIPELINE = "Партнёрские лиды"
PARTNER_STAGES = ["Новый лид от агентства", "Квалификация", "КП отправлено", "Договор"]
OWN_PIPELINE = "Собственные продажи"
OWN_STAGES = ["Первичный контакт", "Переговоры", "Принимают решение"]
DEFAULT_STAGES = ["Первичный контакт", "Переговоры", "Принимают решение", "Согласование договора"]
SOURCES = ["Агентство", "Сайт", "Рекомендация"]

# name, price, stage (name or 142/143), source, brief, contact name, phone, email, company
_DEMO_LEADS: list[tuple[str, int, str | int, str, str, str, str, str, str | None]] = [
    (
        "Сайт для стоматологии «Улыбка»",
        450000,
        "Новый лид от агентства",
        "Агентство",
        "Нужен сайт с онлайн-записью и интеграцией с МИС.",
        "Анна Смирнова",
        "+7 916 123-45-67",
        "anna@ulybka-dent.ru",
        "ООО «Улыбка»",
    ),
    (
        "Интернет-магазин автозапчастей",
        780000,
        "Квалификация",
        "Агентство",
        "Каталог на 40 тыс. позиций, выгрузка из 1С.",
        "Дмитрий Орлов",
        "+7 903 555-12-34",
        "orlov@avtodetal.ru",
        None,
    ),
    (
        "Редизайн корпоративного портала",
        1200000,
        "КП отправлено",
        "Рекомендация",
        "Портал для 300 сотрудников, SSO.",
        "Елена Кузнецова",
        "+7 495 987-65-43",
        "e.kuznetsova@vektor.ru",
        "ООО «Вектор»",
    ),
    (
        "Мобильное приложение для фитнес-клуба",
        950000,
        "Договор",
        "Сайт",
        "iOS и Android, абонементы и расписание.",
        "Игорь Соколов",
        "+7 921 444-22-11",
        "igor@fitlife.ru",
        None,
    ),
    (
        "Лендинг для юридической фирмы",
        120000,
        WON,
        "Агентство",
        "Одностраничник с формой заявки.",
        "Ольга Морозова",
        "+7 812 333-44-55",
        "morozova@pravo-spb.ru",
        None,
    ),
    (
        "CRM-интеграция для логистики",
        300000,
        LOST,
        "Агентство",
        "Связать amoCRM с WMS клиента.",
        "Сергей Павлов",
        "+7 383 210-10-10",
        "pavlov@logist.ru",
        None,
    ),
]


def apply(store: Store, seed: str) -> None:
    if seed not in SEEDS:
        raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
    parties.define_standard_fields(store)
    if seed == "empty":
        meta.add_user(store, "Администратор", "admin@example.com", admin=True)
        meta.add_pipeline(store, "Воронка", DEFAULT_STAGES, is_main=True)
        return
    _demo(store)


def _demo(store: Store) -> None:
    meta.add_user(store, "Олег Ковалёв", "oleg@partner-agency.ru", admin=True)
    meta.add_user(store, "Мария Иванова", "maria@partner-agency.ru")
    partner = meta.add_pipeline(store, PARTNER_PIPELINE, PARTNER_STAGES, is_main=True)
    own = meta.add_pipeline(store, OWN_PIPELINE, OWN_STAGES)
    brief = cf.define(store, "leads", {"name": "Бриф", "type": "textarea"})
    source = cf.define(store, "leads", {"name": "Источник", "type": "select", "enums": SOURCES})
    paid = cf.define(store, "leads", {"name": "Оплачено клиентом", "type": "numeric"})
    cf.define(store, "companies", {"name": "ИНН", "type": "text"})
    names = {s["name"]: s["id"] for s in store.pipelines[partner]["statuses"]}
    start = store.now() - 86400 * len(_DEMO_LEADS)
    for index, row in enumerate(_DEMO_LEADS):
        name, price, stage, src, text, person, phone, email, company = row
        status_id = stage if isinstance(stage, int) else names[stage]
        values: list[dict[str, Any]] = [
            {"field_id": brief["id"], "values": [{"value": text}]},
            {"field_id": source["id"], "values": [{"value": src}]},
        ]
        if status_id == WON:
            values.append({"field_id": paid["id"], "values": [{"value": price}]})
        contact_id = _contact(store, person, phone, email, company)
        moment = start + index * 86400
        data = {
            "name": name,
            "price": price,
            "pipeline_id": partner,
            "status_id": status_id,
            "custom_fields_values": values,
            "responsible_user_id": store.admin_id,
            "created_at": moment,
            "updated_at": moment,
            "_embedded": {"contacts": [{"id": contact_id, "is_main": True}]},
        }
        lead = leads.create(store, data, str(index), store.admin_id, quiet=True)
        if company is not None:
            lead["companies"] = list(store.contacts[contact_id]["companies"])
    own_lead = {"name": "Поддержка сайта «Кофейня на углу»", "price": 60000, "pipeline_id": own}
    leads.create(store, own_lead, "0", store.admin_id, quiet=True)


def _contact(store: Store, person: str, phone: str, email: str, company: str | None) -> int:
    first, _, last = person.partition(" ")
    data: dict[str, Any] = {
        "name": person,
        "first_name": first,
        "last_name": last,
        "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]},
            {"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]},
        ],
    }
    if company is not None:
        company_id = parties.add(store, "companies", {"name": company})["id"]
        data["_embedded"] = {"companies": [{"id": company_id}]}
    return int(parties.add(store, "contacts", data)["id"])
