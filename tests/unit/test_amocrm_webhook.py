"""amoCRM webhook parsing: recorded bodies → hints; anything doubtful is rejected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bridge.amocrm.webhook import FORM, Webhook, authentic
from bridge.crm import WebhookRejected
from bridge.model import Hint, HintKind
from bridge.secrets import Secret

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "amocrm"
SECRET = Secret("Zp8rQ2vX9kLmN4tY7wB1cD6fH3jK5sA0")
NOW = dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC)


def _parse(body: bytes | str, subdomain: str | None = None) -> list[Hint]:
    raw = body.encode() if isinstance(body, str) else body
    return Webhook("amocrm:partner", subdomain).parse(raw, FORM, now=NOW)


def test_status_capture_becomes_a_moved_hint() -> None:
    body = (FIXTURES / "webhook_leads_status.txt").read_bytes()
    assert _parse(body, subdomain="test000002") == [
        Hint("amocrm:partner", "31926520", HintKind.MOVED, NOW)
    ]


def test_update_capture_becomes_an_updated_hint() -> None:
    body = (FIXTURES / "webhook_leads_update.txt").read_bytes()
    (hint,) = _parse(body)
    assert (hint.deal_id, hint.kind, hint.source) == ("31926520", HintKind.UPDATED, "webhook")


def test_several_actions_and_leads_in_one_post_deduplicated() -> None:
    body = (
        "leads[add][0][id]=1&leads[update][0][id]=2&leads[update][1][id]=2"
        "&leads[delete][0][id]=3&leads[note][0][note][element_id]=4&leads[note][0][note][id]=900"
        "&contacts[update][0][id]=77&account[subdomain]=partner"
    )
    hints = {(h.deal_id, h.kind) for h in _parse(body)}
    assert hints == {
        ("1", HintKind.ADDED),
        ("2", HintKind.UPDATED),
        ("3", HintKind.DELETED),
        ("4", HintKind.UPDATED),
    }


def test_contacts_only_and_unknown_actions_give_no_hints() -> None:
    assert _parse("contacts[add][0][id]=5&leads[something_new][0][id]=6") == []


def test_cyrillic_fields_are_no_obstacle() -> None:
    body = "leads[update][0][id]=8&leads[update][0][name]=%D0%A1%D0%B4%D0%B5%D0%BB%D0%BA%D0%B0"
    assert [h.deal_id for h in _parse(body)] == ["8"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty body"),
        ("leads[update][0][id]=abc", "lead id missing or not a number"),
        ("leads[update][0][name]=x", "lead id missing or not a number"),
        ("leads=1", "malformed leads"),
        ("leads[update]=1", "malformed lead list"),
        ("[broken=1", "body is not a form"),
        (b"leads[update][0][id]=\xff\xfe", "body is not a form"),
    ],
)
def test_rejections_are_specific_and_do_not_echo_input(body: str | bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        _parse(body)
    assert (caught.value.reason, caught.value.status) == (reason, 400)
    assert SECRET.reveal() not in str(caught.value)


@pytest.mark.parametrize("presented", ["wrong-secret", ""])
def test_a_wrong_or_missing_path_secret_is_not_authentic(presented: str) -> None:
    # The route compares the path secret before the body is parsed at all.
    assert not authentic(SECRET, presented)


def test_a_body_that_does_not_say_it_is_a_form_is_refused_as_415() -> None:
    with pytest.raises(WebhookRejected) as caught:
        Webhook("amocrm:partner").parse(b"leads[update][0][id]=1", "application/json", now=NOW)
    assert (caught.value.reason, caught.value.status) == ("amoCRM webhooks are form-encoded", 415)


def test_webhook_from_another_account_is_rejected() -> None:
    body = (FIXTURES / "webhook_leads_update.txt").read_bytes()
    with pytest.raises(WebhookRejected, match="wrong account"):
        _parse(body, subdomain="partner")


def test_oversized_body_is_rejected_before_parsing() -> None:
    with pytest.raises(WebhookRejected, match="too large"):
        _parse("leads[update][0][id]=1&" + "x=1&" * 300_000)


def test_authentic_compares_whole_secret() -> None:
    assert authentic(SECRET, SECRET.reveal())
    assert not authentic(SECRET, SECRET.reveal()[:-1])
    assert not authentic(SECRET, SECRET.reveal() + "x")
