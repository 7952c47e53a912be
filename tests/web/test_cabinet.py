"""The partner cabinet: balance both ways, entry states, payout requests with invoices."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from bridge.cabinet.tables import PayoutRequestRow
from tests.web.conftest import Site, csrf_of
from tests.web.seed import ALFA_PDF


def _flat(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_home_shows_balance_states_and_what_is_payable(site: Site) -> None:
    page = _flat(site.cabinet("alfa").get(f"{site.url}/p/", timeout=10).text)
    assert "Агентство должно вам" in page
    assert "12 345,11" in page  # both accruals
    assert "Можно запросить к выплате" in page and "11 111,11" in page
    assert "просрочено" in page  # 11 111,11 was payable 7 days ago
    assert "начислено" in page or "удерживается" in page  # 1 234,00 is not payable yet
    english = _flat(site.cabinet("alfa").get(f"{site.url}/p/?lang=en", timeout=10).text)
    assert "The agency owes you" in english and "overdue" in english


def _request(site: Site, amount: str, name: str, data: bytes) -> str:
    http = site.cabinet("alfa")
    csrf = csrf_of(http.get(f"{site.url}/p/", timeout=10).text)
    answer = http.post(
        f"{site.url}/p/payout",
        data={"csrf": csrf, "amount": amount, "currency": "RUB", "note": "счёт 12"},
        files={"invoice": (name, data, "application/pdf")},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.text


def _requests(site: Site) -> list[PayoutRequestRow]:
    with site.ctx.store.transaction() as db:
        return list(
            db.exec(select(PayoutRequestRow).where(PayoutRequestRow.partner_code == "alfa"))
        )


def test_a_payout_request_keeps_its_invoice_and_the_console_lists_it(site: Site) -> None:
    text = _request(site, "5000,00", "invoice-12.pdf", ALFA_PDF)
    assert "Запрос выплаты отправлен" in text
    rows = _requests(site)
    assert len(rows) == 2 and rows[-1].amount == 5000 and rows[-1].invoice == ALFA_PDF
    console = site.console().get(f"{site.url}/console/ledger", timeout=10).text
    assert f'id="request-{rows[-1].id}"' in console


def test_requests_above_payable_or_without_a_pdf_are_refused(site: Site) -> None:
    assert "больше той" in _request(site, "99999.00", "a.pdf", ALFA_PDF)
    assert "PDF" in _request(site, "10.00", "a.exe", b"MZ\x90\x00")
    assert "PDF" in _request(site, "10.00", "big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))
    assert "положительн" in _request(site, "-5", "a.pdf", ALFA_PDF)
    assert len(_requests(site)) == 1  # only the seeded one


def test_cli_link_opens_the_cabinet_and_revoke_closes_it(site: Site, tmp_path: Path) -> None:
    import requests

    from tests.web.seed import ADMIN

    db = site.ctx.store.engine.url.render_as_string(hide_password=False)
    mapping = Path(__file__).resolve().parents[2] / "mapping.yaml"
    port = site.url.rsplit(":", 1)[1]
    env = {
        **os.environ,
        "BRIDGE_ADMIN_TOKEN": ADMIN,
        "BRIDGE_DB_URL": db,
        "BRIDGE_MAPPING": str(mapping),
        "BRIDGE_HTTP_PORT": port,
    }
    env.pop("BRIDGE_SECRET_KEY", None)
    empty = tmp_path / "empty.env"  # no .env of the folder the tests run in
    empty.write_text("")
    bridge = [str(Path(sys.executable).parent / "bridge")]
    out = subprocess.run(
        [*bridge, "cabinet", "link", "alfa", "--days", "3", "--env-file", str(empty)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert out.startswith(f"http://127.0.0.1:{port}/p/enter/")
    site.ctx.clock = lambda: dt.datetime.now(dt.UTC)
    http = requests.Session()
    assert http.get(out, timeout=10).status_code == 200
    assert "АЛЬФА-сделка 1001" in http.get(f"{site.url}/p/", timeout=10).text
    unknown = subprocess.run(
        [*bridge, "cabinet", "link", "gamma", "--env-file", str(empty)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (
        unknown.returncode == 2 and "gamma" in unknown.stderr and "Traceback" not in unknown.stderr
    )
    subprocess.run(
        [*bridge, "cabinet", "revoke", "alfa", "--env-file", str(empty)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert http.get(f"{site.url}/p/", timeout=10).status_code == 403
    assert requests.get(out, timeout=10).status_code == 403
