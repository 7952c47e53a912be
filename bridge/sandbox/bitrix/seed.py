"""Deterministic starting data: an empty portal, the agency's portal, a partner's.

All randomness comes from a seeded ``random.Random``, so two sandboxes built
with the same seed hold the same deals.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from bridge.sandbox.bitrix.core import PORTAL_TZ
from bridge.sandbox.bitrix.store import Portal

PARTNER_STAGES = [
    ("NEW", "Новая", "P"),
    ("PREPARATION", "Передана партнёру", "P"),
    ("EXECUTING", "В работе у партнёра", "P"),
    ("FINAL_INVOICE", "Договор подписан", "P"),
    ("WON", "Сделка успешна", "S"),
    ("LOSE", "Сделка провалена", "F"),
]
PARTNER_LEAD_STAGES = [
    ("NEW", "Новый лид", "P"),
    ("PREPARATION", "Квалификация", "P"),
    ("PREPAYMENT_INVOICE", "Коммерческое предложение", "P"),
    ("EXECUTING", "Договор", "P"),
    ("WON", "Успех", "S"),
    ("LOSE", "Провал", "F"),
]
PARTNER_NAMES = ("Атвинта", "Веб-Студия Альфа", "Digital Бета")
_FIRST = ("Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Елена", "Сергей", "Наталья")
_LAST_M = ("Петров", "Соколов", "Кузнецов", "Попов", "Васильев", "Новиков")
_LAST_F = ("Петрова", "Соколова", "Кузнецова", "Попова", "Васильева", "Новикова")
_FEMALE = frozenset({"Мария", "Ольга", "Елена", "Наталья"})
_COMPANIES = ("Ромашка", "Вектор", "СеверСталь-Сервис", "Горизонт", "ТехноПарк", "Уралсиб-Трейд")
_PROJECTS = (
    "Интернет-магазин",
    "Корпоративный сайт",
    "Мобильное приложение",
    "Редизайн лендинга",
    "Интеграция с 1С",
    "SEO-продвижение",
    "Чат-бот для поддержки",
)


SEEDS = ("empty", "demo", "partner")


def apply_seed(portal: Portal, seed: str) -> None:
    seeds = {"empty": _empty, "demo": _demo, "partner": _partner}
    if seed not in seeds:
        raise ValueError(f"unknown seed {seed!r}; expected one of {sorted(seeds)}")
    seeds[seed](portal)


def _empty(portal: Portal) -> None:
    return


def _users(portal: Portal) -> None:
    portal.add_user(2, "Павел", "Орлов", "pavel@agency.example")
    portal.add_user(3, "Екатерина", "Лебедева", "ekaterina@agency.example")
    portal.add_user(4, "Максим", "Фёдоров", "maxim@agency.example")


def _phone(rng: random.Random) -> str:
    code, a, b, c = (
        rng.randint(900, 999),
        rng.randint(100, 999),
        rng.randint(10, 99),
        rng.randint(10, 99),
    )
    if rng.random() < 0.5:
        return f"+7 ({code}) {a}-{b}-{c}"
    return f"8 495 {a}-{b}-{c}"


def _contact(portal: Portal, rng: random.Random, company_id: int | None, user_id: int) -> int:
    first = rng.choice(_FIRST)
    last = rng.choice(_LAST_F if first in _FEMALE else _LAST_M)
    login = rng.choice(("info", "sales", "boss", "pm"))
    fields: dict[str, Any] = {
        "NAME": first,
        "LAST_NAME": last,
        "PHONE": [{"VALUE": _phone(rng), "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": f"{login}{rng.randint(1, 99)}@example.ru", "VALUE_TYPE": "WORK"}],
    }
    if company_id:
        fields["COMPANY_ID"] = company_id
    return portal.contacts.add(fields, user_id=user_id)


def _companies(portal: Portal, rng: random.Random) -> list[int]:
    ids = []
    for name in _COMPANIES:
        inn = _with_check_digit("".join(str(rng.randint(0, 9)) for _ in range(10)))
        fields = {
            "TITLE": f"ООО «{name}»",
            "COMPANY_TYPE": "CUSTOMER",
            "UF_CRM_INN": inn,
            "PHONE": [{"VALUE": _phone(rng), "VALUE_TYPE": "WORK"}],
        }
        company_id = portal.companies.add(fields, user_id=1)
        # The tax details a manager fills in on the company card: a requisite.
        requisite: dict[str, Any] = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id}
        requisite |= {"PRESET_ID": 1}
        requisite |= {"NAME": "Организация", "RQ_COMPANY_NAME": fields["TITLE"], "RQ_INN": inn}
        portal.requisites.add(requisite, user_id=1)
        ids.append(company_id)
    return ids


def _with_check_digit(digits: str) -> str:
    """A 10-digit ИНН whose last digit is its check digit (weights of the tax service)."""
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    total = sum(int(d) * w for d, w in zip(digits[:9], weights, strict=True))
    return digits[:9] + str(total % 11 % 10)


def _agency_fields(portal: Portal) -> None:
    options = [{"VALUE": name, "SORT": (n + 1) * 10} for n, name in enumerate(PARTNER_NAMES)]
    portal.userfields.add(
        {
            "FIELD_NAME": "UF_CRM_PARTNER",
            "USER_TYPE_ID": "enumeration",
            "MULTIPLE": "Y",
            "LABEL": "Партнёр",
            "LIST": options,
            "SORT": 100,
        }
    )
    for name, kind, label in (
        ("UF_CRM_AGENCY_FEE", "money", "Вознаграждение агентства"),
        ("UF_CRM_PAID", "money", "Оплачено клиентом"),
        ("UF_CRM_BRIEF", "string", "Бриф"),
    ):
        portal.userfields.add({"FIELD_NAME": name, "USER_TYPE_ID": kind, "LABEL": label})


def _demo(portal: Portal) -> None:
    rng = random.Random(20241124)
    _users(portal)
    category = portal.pipelines.add_category("Партнёрские сделки", with_defaults=False)
    portal.pipelines.define_stages(category.id, PARTNER_STAGES)
    _agency_fields(portal)
    companies = _companies(portal, rng)
    options = [int(o["ID"]) for o in portal.userfields.fields["UF_CRM_PARTNER"]["LIST"]]
    # Anchored to the day, so two portals seeded the same day hold the same deals.
    today = portal.now().astimezone(PORTAL_TZ).replace(hour=0, minute=0, second=0)
    start = today - dt.timedelta(days=90)
    for n in range(36):
        partnered = n % 3 != 2
        category_id = category.id if partnered else 0
        stages = [s["STATUS_ID"] for s in portal.pipelines.of_category(category_id)]
        amount = Decimal(rng.randrange(60, 900) * 1000)
        company = rng.choice(companies)
        fields: dict[str, Any] = {
            "TITLE": f"{rng.choice(_PROJECTS)} для ООО «{_COMPANIES[companies.index(company)]}»",
            "CATEGORY_ID": category_id,
            "STAGE_ID": rng.choice(stages),
            "OPPORTUNITY": str(amount),
            "CURRENCY_ID": "RUB",
            "COMPANY_ID": company,
            "ASSIGNED_BY_ID": rng.randint(1, 4),
            "CONTACT_IDS": [_contact(portal, rng, company, 1)],
            "UF_CRM_BRIEF": f"Бюджет до {amount} ₽, запуск в течение квартала",
        }
        if partnered:
            fields["UF_CRM_PARTNER"] = [rng.choice(options)]
            fields["UF_CRM_AGENCY_FEE"] = f"{amount / 10:.2f}|RUB"
        deal_id = portal.deals.add(fields, user_id=1).deal_id
        _backdate(portal, deal_id, start + dt.timedelta(days=n * 2, hours=rng.randint(9, 18)))


def _backdate(portal: Portal, deal_id: int, when: dt.datetime) -> None:
    """Seeded deals look as if made over the past months."""
    record = portal.deals.rows[deal_id]
    moment = when.replace(microsecond=0)
    for key in ("DATE_CREATE", "DATE_MODIFY", "MOVED_TIME", "LAST_ACTIVITY_TIME"):
        record[key] = moment
    record["BEGINDATE"] = moment.date()


def _partner(portal: Portal) -> None:
    rng = random.Random(20241125)
    portal.pipelines.rename_category(0, "Лиды от агентства")
    portal.pipelines.define_stages(0, PARTNER_LEAD_STAGES)
    portal.userfields.add({"FIELD_NAME": "UF_CRM_BRIEF", "USER_TYPE_ID": "string", "LABEL": "Бриф"})
    companies = _companies(portal, rng)[:3]
    for n in range(5):
        company = companies[n % len(companies)]
        portal.deals.add(
            {
                "TITLE": f"{_PROJECTS[n]} (от агентства)",
                "STAGE_ID": PARTNER_LEAD_STAGES[n % 4][0],
                "OPPORTUNITY": str(rng.randrange(100, 600) * 1000),
                "COMPANY_ID": company,
                "CONTACT_IDS": [_contact(portal, rng, company, 1)],
                "UF_CRM_BRIEF": "Нужен сайт с каталогом и интеграцией с 1С",
            },
            user_id=1,
        )


def bulk_deals(
    portal: Portal, count: int, category_id: int, with_contacts: bool, user_id: int
) -> list[int]:
    """Fast direct inserts (no events), e.g. for paging tests and benchmarks."""
    if category_id not in portal.pipelines.categories:
        raise ValueError(f"no deal category {category_id}")
    rng = random.Random(count * 7919 + category_id)
    stage = portal.pipelines.first_stage(category_id)
    ids = []
    for n in range(count):
        fields: dict[str, Any] = {
            "TITLE": f"{rng.choice(_PROJECTS)} №{n + 1}",
            "CATEGORY_ID": category_id,
            "STAGE_ID": stage,
            "OPPORTUNITY": str(rng.randrange(50, 500) * 1000),
            "CURRENCY_ID": "RUB",
        }
        if with_contacts:
            fields["CONTACT_IDS"] = [_contact(portal, rng, None, user_id)]
        ids.append(portal.deals.add(fields, user_id=user_id).deal_id)
    return ids
