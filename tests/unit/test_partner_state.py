"""One partner's state text, as /readyz and bridge status both show it."""

from __future__ import annotations

import datetime as dt

from bridge.store.health import PartnerHealth
from sync.engine import BREAKER_AFTER, BREAKER_MAX, breaker_open
from sync.runtime.partner_state import MAX_TEXT, MappingView, partner_state

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _row(
    failures: int, error: str = "[amocrm:alfa] HTTP 503", at: dt.datetime = NOW
) -> PartnerHealth:
    return PartnerHealth(
        partner_code="alfa",
        last_success_at=NOW - dt.timedelta(hours=1),
        last_error_at=at,
        last_error=error,
        error_kind="TransientError",
        consecutive_failures=failures,
    )


def test_ok_is_exactly_ok_and_only_when_nothing_is_wrong() -> None:
    assert partner_state(None, NOW) == "ok"
    assert partner_state(_row(0), NOW) == "ok"  # failed once, succeeded since
    assert partner_state(_row(1), NOW) != "ok"


def test_a_failed_pass_says_failing_with_the_error_without_the_account_prefix() -> None:
    assert partner_state(_row(2), NOW) == "failing: HTTP 503"


def test_the_circuit_breaker_says_until_when_and_why() -> None:
    row = _row(BREAKER_AFTER, at=NOW - dt.timedelta(seconds=10))
    assert partner_state(row, NOW) == "paused by the bridge until 12:00 UTC: HTTP 503"
    later = NOW + dt.timedelta(minutes=5)  # the pause is over: it is probed, still failing
    assert partner_state(row, later) == "failing: HTTP 503"


def test_paused_in_mapping_wins_over_any_error() -> None:
    assert partner_state(_row(3), NOW, MappingView(paused=True)) == "paused in mapping.yaml"


def test_a_partner_whose_crm_cannot_be_read_fails_and_a_missing_pipeline_is_unresolved() -> None:
    down = MappingView(unavailable="cannot read the CRM: [amocrm:alfa] connection refused")
    assert (
        partner_state(None, NOW, down)
        == "failing: cannot read the CRM: [amocrm:alfa] connection refused"
    )
    missing = MappingView(unavailable="pipeline 'Продажи' not found — did you mean 'Воронка'?")
    assert partner_state(_row(0), NOW, missing).startswith("unresolved: pipeline 'Продажи'")


def test_the_store_only_view_reads_a_set_aside_partner_from_its_health_row() -> None:
    error = "[alfa] partner 'alfa' is not available: cannot read the CRM: [amocrm:alfa] 401"
    # Even after BREAKER_AFTER passes: it was set aside, never called, not broken-down.
    state = partner_state(_row(BREAKER_AFTER + 1, error), NOW)
    assert state == "failing: cannot read the CRM: [amocrm:alfa] 401"
    assert partner_state(_row(2, error), NOW, MappingView()) == state


def test_the_text_is_short_and_one_line() -> None:
    state = partner_state(_row(1, "x" * 5000 + "\nsecond line"), NOW)
    assert len(state) <= MAX_TEXT and "\n" not in state and state.startswith("failing: x")


def test_the_agency_fails_but_is_never_paused_by_the_bridge() -> None:
    row = _row(BREAKER_AFTER + 2, "[bitrix24:agency] HTTP 503", at=NOW)
    assert partner_state(row, NOW, breaker=False) == "failing: HTTP 503"


def test_the_breaker_pause_stays_at_its_maximum_however_long_a_partner_keeps_failing() -> None:
    # Passes back to back against a hung partner fail it thousands of times in a row.
    row = _row(BREAKER_AFTER + 5_000, at=NOW - dt.timedelta(seconds=10))
    assert breaker_open(row, NOW) == NOW - dt.timedelta(seconds=10) + BREAKER_MAX
