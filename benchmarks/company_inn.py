"""What the company ИНН costs: requests to read and write it, per 50 companies.

    python -m benchmarks.company_inn [--companies 50,500,2500]

Bitrix24 keeps the ИНН in requisites: ``BitrixCrm.fetch_companies`` sends one
``crm.requisite.list`` command per 50 companies in the same ``batch`` as the
``crm.company.list`` commands. amoCRM keeps it in a company field that comes with
the company rows; only the field catalogue is read, once per adapter. Printed:
HTTP requests of a read with the ИНН against the companies alone (the bound: no
request added), and the requests of creating 50 deals with contact + company,
with and without an ИНН (a Bitrix24 requisite is one more command per company).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.bitrix.client import BitrixCrm
from bridge.bitrix.transport import pacer_for
from bridge.model import Company, Contact, DealDraft
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox
from bridge.secrets import Secret

INN = "7707083893"


def _count(requests: Callable[[], int], work: Callable[[], Any]) -> int:
    before = requests()
    work()
    return requests() - before


def _read(
    fetch: Callable[[list[str]], dict[str, Company]], ids: list[str], into: dict[str, Company]
) -> None:
    into.update(fetch(ids))


def bitrix(sizes: list[int]) -> list[str]:
    lines = []
    with BitrixSandbox(seed="empty", plan="enterprise", rate_limit=False) as box:
        crm = BitrixCrm(
            Secret(box.webhook_url), system="bitrix24:bench", pacer=pacer_for("enterprise")
        )
        try:
            with box.portal.lock:
                ids = []
                for n in range(max(sizes)):
                    company = box.portal.companies.add({"TITLE": f"ООО «Фирма {n}»"}, user_id=1)
                    fields = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company, "PRESET_ID": 1}
                    box.portal.requisites.add(
                        {**fields, "NAME": "Организация", "RQ_INN": INN}, user_id=1
                    )
                    ids.append(str(company))
            served = lambda: box.server.calls.requests  # noqa: E731
            base: dict[str, Any] = {"select": ["ID", "TITLE"]}
            for size in sizes:
                chosen = ids[:size]
                found: dict[str, Company] = {}
                with_inn = _count(served, partial(_read, crm.fetch_companies, chosen, found))
                assert sum(1 for c in found.values() if c.tax_id == INN) == size
                alone = _count(
                    served, partial(crm._list_by, "crm.company.list", "ID", chosen, base, list)
                )
                added = (with_inn - alone) / (size / 50)
                lines.append(
                    f"bitrix24 read {size:>5} companies: requests {with_inn} with ИНН, "
                    f"{alone} companies alone → {added:.2f} added per 50 companies"
                )
            pipeline = next(p for p in crm.pipelines())
            stage = pipeline.stages[0].id
            for inn in (None, INN):
                drafts = [_draft(n, pipeline.id, stage, inn) for n in range(50)]
                spent = _count(served, partial(crm.create_deals, drafts))
                label = "with ИНН" if inn else "no ИНН  "
                lines.append(
                    f"bitrix24 create 50 deals + contact + company {label}: requests {spent}"
                )
        finally:
            crm.close()
    return lines


def amocrm(sizes: list[int]) -> list[str]:
    lines = []
    with AmoSandbox(seed="demo", rate_limit=None) as box:
        crm = AmoCrm(
            box.base_url,
            LongLivedToken(Secret(str(box.long_lived_token))),
            system="amocrm:bench",
            pacer=Pacer(rate=10_000, burst=10_000),
        )
        try:
            field = box.field_id("ИНН", "companies")
            ids = []
            for n in range(max(sizes)):
                values = [{"field_id": field, "values": [{"value": INN}]}]
                data = {"name": f"ООО «Фирма {n}»", "custom_fields_values": values}
                ids.append(str(box.add_company(data)))
            served = lambda: box.server.calls.requests  # noqa: E731
            catalogue = _count(served, crm._company_tax_field)
            for size in sizes:
                found: dict[str, Company] = {}
                spent = _count(served, partial(_read, crm.fetch_companies, ids[:size], found))
                assert sum(1 for c in found.values() if c.tax_id == INN) == size
                lines.append(
                    f"amocrm   read {size:>5} companies: requests {spent} "
                    f"(the ИНН comes in the company rows: 0 added per 50, bound 0)"
                )
            lines.append(f"amocrm   company field catalogue, once per adapter: {catalogue} request")
        finally:
            crm.close()
    return lines


def _draft(n: int, pipeline: str, stage: str, inn: str | None) -> DealDraft:
    return DealDraft(
        key=f"k{n}",
        title=f"Сделка {n}",
        pipeline_id=pipeline,
        stage_id=stage,
        contact=Contact(name=f"Клиент {n}", phones=(f"+7 916 000-{n:04d}",)),
        company=Company(name=f"ООО «Фирма {n}»", tax_id=inn),
        stamp=f"bench-{n}-{inn}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", default="50,500,2500")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.companies.split(","))
    for line in [*bitrix(sizes), *amocrm(sizes)]:
        print(line)


if __name__ == "__main__":
    main()
