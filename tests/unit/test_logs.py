"""Structured logging: JSON off a terminal, text on one, secrets never rendered."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bridge.logs import configure_logging, log_event
from bridge.secrets import Secret


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_event_and_fields(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(json_lines=True, stream=stream)
    log_event(logging.getLogger("bridge.test"), "deal.mirrored", partner="alfa", deal="42")
    record = json.loads(stream.getvalue().strip())
    assert record["event"] == "deal.mirrored"
    assert (record["partner"], record["deal"], record["level"]) == ("alfa", "42", "info")
    assert record["ts"].endswith("+00:00")


def test_cyrillic_survives_json(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(json_lines=True, stream=stream)
    log_event(logging.getLogger("bridge.test"), "stage.moved", stage="Передана партнёру")
    assert json.loads(stream.getvalue())["stage"] == "Передана партнёру"


def test_secrets_are_masked_in_every_format(restore_root: None) -> None:
    token = Secret("tok-very-secret-123456").reveal()
    for json_lines in (True, False):
        stream = io.StringIO()
        configure_logging(json_lines=json_lines, stream=stream)
        logging.getLogger("fast_bitrix24").warning("POST http://h/rest/1/abcdefsecret/crm.deal.get")
        log_event(logging.getLogger("bridge.test"), "token.used", token=token)
        try:
            raise RuntimeError(f"failed with {token}")
        except RuntimeError:
            logging.getLogger("bridge.test").exception("call.failed")
        out = stream.getvalue()
        assert token not in out and "abcdefsecret" not in out, out
        assert "***" in out


def test_noisy_libraries_held_at_warning(restore_root: None) -> None:
    configure_logging(json_lines=True, stream=io.StringIO(), verbose=True)
    assert logging.getLogger("fast_bitrix24").level == logging.WARNING
    assert logging.getLogger().level == logging.DEBUG


def test_configure_is_idempotent(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(json_lines=True, stream=stream)
    configure_logging(json_lines=True, stream=stream)
    logging.getLogger("bridge.test").info("once")
    assert stream.getvalue().count('"once"') == 1
