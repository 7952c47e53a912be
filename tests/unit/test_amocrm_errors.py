"""amoCRM answers → the shared error tree: each status becomes exactly one kind of error."""

from __future__ import annotations

import pytest

from bridge.amocrm.errors import DEFAULT_RETRY_AFTER, BatchRejected, WireError, classify, lost
from bridge.crm import (
    AccountBlocked,
    AuthError,
    CrmError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from bridge.secrets import Secret


@pytest.mark.parametrize(
    ("status", "write", "kind"),
    [
        (401, False, AuthError),
        (402, False, AuthError),
        (403, False, AccountBlocked),
        (404, False, NotFound),
        (400, False, PermanentError),
        (422, True, PermanentError),
        (500, False, TransientError),
        (502, True, OutcomeUnknown),
    ],
)
def test_each_status_becomes_one_kind(status: int, write: bool, kind: type[CrmError]) -> None:
    found = classify(WireError(status), system="amocrm:x", write=write)
    assert type(found) is kind
    assert found.system == "amocrm:x"


def test_a_server_error_on_a_read_is_retryable_not_an_unknown_outcome() -> None:
    found = classify(WireError(503), system="amocrm:x", write=False)
    assert isinstance(found, TransientError) and not isinstance(found, OutcomeUnknown)


@pytest.mark.parametrize(
    ("header", "body", "wait"),
    [
        ("12", {}, 12.0),
        (None, {"retry_after": 3}, 3.0),
        ("soon", {}, DEFAULT_RETRY_AFTER),
        (None, {}, DEFAULT_RETRY_AFTER),
    ],
)
def test_429_says_how_long_to_wait(
    header: str | None, body: dict[str, object], wait: float
) -> None:
    found = classify(WireError(429, body, header), system="amocrm:x")
    assert isinstance(found, RateLimited) and found.retry_after == wait


def test_validation_errors_name_the_refused_elements() -> None:
    problem = {
        "title": "Bad Request",
        "validation-errors": [
            {"request_id": "1", "errors": [{"path": "price", "detail": "must be int"}]},
            {"request_id": "3", "errors": []},
        ],
    }
    found = classify(WireError(400, problem), system="amocrm:x", write=True)
    assert isinstance(found, BatchRejected)
    assert found.items == {"1": "price: must be int", "3": "rejected"}


def test_server_text_is_redacted_before_it_reaches_the_message() -> None:
    token = Secret("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.redact-me")  # known secrets are masked
    problem = {"detail": f"token {token.reveal()} is invalid"}
    found = classify(WireError(400, problem), system="amocrm:x")
    assert "is invalid" in str(found) and token.reveal() not in str(found)


def test_a_lost_answer_to_a_write_is_an_unknown_outcome() -> None:
    assert type(lost("timeout", system="s", write=True)) is OutcomeUnknown
    assert type(lost("timeout", system="s", write=False)) is TransientError
