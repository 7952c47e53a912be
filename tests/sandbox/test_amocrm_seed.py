"""The sandbox's seeds and leftovers: determinism, trash, If-Modified-Since, the CLI entry."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from email.utils import formatdate

import pytest
import requests

from bridge.sandbox.amocrm.account import AmoSandbox
from tests.sandbox.conftest import AmoApi


def _stable(amo: AmoSandbox) -> list[str]:
    """Every lead minus its timestamps, with the (random) port taken out of links."""
    leads = []
    for lead_id in amo.lead_ids():
        lead = {k: v for k, v in (amo.get_lead(lead_id) or {}).items() if not k.endswith("_at")}
        leads.append(json.dumps(lead, ensure_ascii=False).replace(amo.base_url, "BASE"))
    return leads


def test_demo_seed_is_deterministic() -> None:
    with AmoSandbox(seed="demo") as one, AmoSandbox(seed="demo") as two:
        first, second = _stable(one), _stable(two)
    assert first == second and len(first) == 7


def test_demo_seed_is_a_russian_partner_agency(amo: AmoSandbox, amo_api: AmoApi) -> None:
    partner = amo.pipeline_id("Партнёрские лиды")
    names = [s["name"] for s in amo.store.pipelines[partner]["statuses"]]
    assert names == [
        "Неразобранное",
        "Новый лид от агентства",
        "Квалификация",
        "КП отправлено",
        "Договор",
        "Успешно реализовано",
        "Закрыто и не реализовано",
    ]
    contacts = amo_api("GET", "/api/v4/contacts?limit=250").json()["_embedded"]["contacts"]
    phones = [c["custom_fields_values"][0]["values"][0]["value"] for c in contacts]
    assert all(re.fullmatch(r"\+7 \d{3} \d{3}-\d{2}-\d{2}", p) for p in phones)
    won = [lead for i in amo.lead_ids() if (lead := amo.get_lead(i)) and lead["status_id"] == 142]
    paid = {v["field_name"]: v["values"][0]["value"] for v in won[0]["custom_fields_values"]}
    assert paid["Оплачено клиентом"] == str(won[0]["price"])


def test_empty_seed_has_one_pipeline_and_no_leads() -> None:
    with AmoSandbox(seed="empty") as amo:
        assert amo.lead_ids() == []
        assert [p["name"] for p in amo.store.pipelines.values()] == ["Воронка"]
    with pytest.raises(ValueError, match="unknown seed"):
        AmoSandbox(seed="nonsense")


def test_deleted_leads_are_listed_with_only_deleted(amo: AmoSandbox, amo_api: AmoApi) -> None:
    lead_id = amo.lead_ids()[0]
    amo.delete_lead(lead_id)
    assert amo_api("GET", f"/api/v4/leads/{lead_id}").status_code == 404
    trash = amo_api("GET", "/api/v4/leads?with=only_deleted").json()["_embedded"]["leads"]
    assert [(t["id"], t["is_deleted"]) for t in trash] == [(lead_id, True)]


def test_if_modified_since_narrows_the_list(amo: AmoSandbox, amo_api: AmoApi) -> None:
    amo.clock.advance(600)
    mark = amo.clock.time()
    changed = amo.lead_ids()[1]
    amo.update_lead(changed, {"price": 42})
    headers = {"If-Modified-Since": formatdate(mark, usegmt=True)}
    reply = amo_api("GET", "/api/v4/leads", headers=headers)
    assert [lead["id"] for lead in reply.json()["_embedded"]["leads"]] == [changed]
    bad = amo_api("GET", "/api/v4/leads", headers={"If-Modified-Since": "yesterday"})
    assert bad.status_code == 400


def test_cli_prints_how_to_connect_and_stops_on_ctrl_c() -> None:
    code = (
        "import bridge.sandbox.amocrm.account as s\n"
        "s.serve_cli(port=0, subdomain='atwinta', token='llt-demo', client_id=None,"
        " client_secret=None, seed='demo')\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        port = re.search(r"for account 'atwinta' at http://127\.0\.0\.1:(\d+)", output)
        assert port is not None, output
        account = requests.get(
            f"http://127.0.0.1:{port.group(1)}/api/v4/account",
            headers={"Authorization": "Bearer llt-demo"},
            timeout=5,
        )
        assert account.json()["subdomain"] == "atwinta"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert "sandbox-client" in output


def test_stop_is_safe_twice_and_without_start() -> None:
    never_started = AmoSandbox()
    never_started.stop()
    never_started.stop()
    with pytest.raises(RuntimeError):
        never_started.start()
    with AmoSandbox() as amo:
        port = amo.server.port
    with AmoSandbox(port=port) as again:  # the port was released
        assert again.base_url.endswith(f":{port}")
