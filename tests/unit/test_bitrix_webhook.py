"""Bitrix24 event parsing: the documented payloads in both renderings, and hostile input."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from bridge.bitrix.webhook import MAX_BODY, Webhook
from bridge.crm import WebhookRejected
from bridge.model import Hint, HintKind
from bridge.secrets import Secret

TOKEN = "51856fefc120afa4b628cc82d3935cce"
NOW = dt.datetime(2026, 1, 9, 12, 0, tzinfo=dt.UTC)
FORM = "application/x-www-form-urlencoded"

# event.ONCRMDEALUPDATE.app.json (docs).
UPDATE = {
    "event": "ONCRMDEALUPDATE",
    "event_handler_id": "201",
    "data": {"FIELDS": {"ID": "759"}},
    "ts": "1736405807",
    "auth": {
        "access_token": "s6p6eclrvim6da22ft9ch94ekreb52lv",
        "expires_in": "3600",
        "scope": "crm",
        "domain": "some-domain.bitrix24.com",
        "server_endpoint": "https://oauth.bitrix.info/rest/",
        "status": "F",
        "client_endpoint": "https://some-domain.bitrix24.com/rest/",
        "member_id": "a223c6b3710f85df22e9377d6c4f7553",
        "refresh_token": "4s386p3q0tr8dy89xvmt96234v3dljg8",
        "application_token": TOKEN,
    },
}


def _form(payload: dict[str, object], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in payload.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_form(value, name))
        else:
            pairs.append((name, str(value)))
    return pairs


def _parse(body: bytes, content_type: str = FORM, token: str = TOKEN) -> Hint:
    (hint,) = Webhook(Secret(token), "b24").parse(body, content_type, now=NOW)
    return hint


def _with(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = json.loads(json.dumps(UPDATE))
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("ONCRMDEALADD", HintKind.ADDED),
        ("ONCRMDEALUPDATE", HintKind.UPDATED),
        ("ONCRMDEALDELETE", HintKind.DELETED),
        ("ONCRMDEALMOVETOCATEGORY", HintKind.MOVED),
    ],
)
def test_form_encoded_deal_events_become_hints(event: str, kind: HintKind) -> None:
    body = urlencode(_form(_with(event=event))).encode()
    hint = _parse(body)
    assert (hint.system, hint.deal_id, hint.kind, hint.received_at) == ("b24", "759", kind, NOW)


def test_json_rendering_and_outgoing_webhook_auth_block() -> None:
    # event.ONCRMDEALADD.outgoing-webhook.json (docs): auth has only five keys.
    payload = {
        "event": "ONCRMDEALADD",
        "event_handler_id": "975",
        "data": {"FIELDS": {"ID": "7405"}},
        "ts": "1766047124",
        "auth": {
            "domain": "some-domain.bitrix24.com",
            "client_endpoint": "https://some-domain.bitrix24.com/rest/",
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": "d897063e1ce7c5eb9f04b9751eef5915",
            "application_token": "jvh9y1ulvt2m6k5or90v9mg8nn32ozas",
        },
    }
    body = json.dumps(payload).encode()
    hint = _parse(body, "application/json; charset=utf-8", "jvh9y1ulvt2m6k5or90v9mg8nn32ozas")
    assert (hint.deal_id, hint.kind) == ("7405", HintKind.ADDED)


def test_move_to_category_with_extra_fields() -> None:
    fields = {"ID": "6675", "CATEGORY_ID": "1", "STAGE_ID": "C1:NEW"}
    payload = _with(event="ONCRMDEALMOVETOCATEGORY", data={"FIELDS": fields})
    assert _parse(urlencode(_form(payload)).encode()).deal_id == "6675"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_with(auth={"application_token": "forged-token-0000000000000000000"}), "forbidden"),
        (_with(auth={"application_token": ""}), "forbidden"),
        (_with(auth={"member_id": "x"}), "forbidden"),
        (_with(event="ONCRMCONTACTADD"), "unsupported_event"),
        (_with(data={"FIELDS": {"ID": "1 OR 1=1"}}), "malformed"),
        (_with(data={"FIELDS": {}}), "malformed"),
        (_with(data="759"), "malformed"),
    ],
)
def test_rejected_events(payload: dict[str, object], reason: str) -> None:
    body = urlencode(_form(payload)).encode()
    with pytest.raises(WebhookRejected) as caught:
        _parse(body)
    assert caught.value.reason == reason
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"x" * (MAX_BODY + 1), FORM, "too_large"),
        (b"\xff\xfe\x00", FORM, "malformed"),
        (b"{not json", "application/json", "malformed"),
        (b"[1, 2]", "application/json", "malformed"),
        (b"a]=1&[[b=2", FORM, "malformed"),
        (b"", FORM, "forbidden"),
    ],
)
def test_garbage_is_rejected_without_detail(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        _parse(body, content_type)
    assert str(caught.value) == reason


def test_token_check_comes_before_anything_is_believed() -> None:
    # A forged request naming an unsupported event still reads as forged, not as "unsupported".
    payload = _with(event="ONCRMCONTACTADD", auth={"application_token": "nope"})
    with pytest.raises(WebhookRejected, match="forbidden"):
        _parse(urlencode(_form(payload)).encode())


@pytest.mark.parametrize(
    ("sent", "verdict"),
    [
        (NOW - dt.timedelta(minutes=59), "ok"),
        (NOW - dt.timedelta(hours=2), "stale"),  # a captured body replayed later
        (NOW + dt.timedelta(minutes=30), "stale"),  # claims to come from the future
    ],
)
def test_with_a_max_age_old_or_future_events_are_replays(sent: dt.datetime, verdict: str) -> None:
    body = urlencode(_form(_with(ts=str(int(sent.timestamp()))))).encode()

    def parse() -> object:
        return Webhook(Secret(TOKEN), "b24", dt.timedelta(hours=1)).parse(body, FORM, now=NOW)

    if verdict == "ok":
        assert parse() is not None
    else:
        with pytest.raises(WebhookRejected) as caught:
            parse()
        assert caught.value.reason == "stale"


def test_a_forged_event_is_refused_before_its_age_is_even_read() -> None:
    body = urlencode(_form(_with(ts="1"))).encode()
    with pytest.raises(WebhookRejected) as caught:
        Webhook(Secret("other"), "b24", dt.timedelta(hours=1)).parse(body, FORM, now=NOW)
    assert caught.value.reason == "forbidden"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"x" * (MAX_BODY + 1), 413), (b"", 403), (b"\xff\xfe\x00", 400)],
)
def test_rejections_carry_the_status_that_tells_the_sender_the_truth(
    body: bytes, status: int
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        _parse(body)
    assert caught.value.status == status
