import logging

import pytest

from bridge.secrets import RedactingFilter, Secret, redact


def test_secret_is_masked_in_repr_and_str() -> None:
    secret = Secret("s3cr3t-token-value")
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in f"{secret}"
    assert secret.reveal() == "s3cr3t-token-value"


def test_redact_masks_known_secrets_and_webhook_paths() -> None:
    Secret("abcdef123456")
    text = "calling https://x.bitrix24.ru/rest/1/zzzyyyxxx/crm.deal.get with abcdef123456"
    cleaned = redact(text)
    assert "zzzyyyxxx" not in cleaned
    assert "abcdef123456" not in cleaned
    assert "/rest/1/***/crm.deal.get" in cleaned


def test_log_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    Secret("tok-987654321")
    logger = logging.getLogger("test.redaction")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("token is %s", "tok-987654321")
    assert "tok-987654321" not in caplog.text
    assert "token is ***" in caplog.text
