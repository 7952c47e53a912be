"""``alerts: decline:``: the commented example is valid and compiles to the documented rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from bridge.kpi.decline import Activity, DeclineRule
from bridge.mapping.validate import validate_text
from tests.mapping.conftest import fixed_env

EXAMPLE = Path(__file__).resolve().parents[2] / "mapping.yaml"


def _uncommented_alerts(text: str) -> str:
    lines = text.splitlines()
    start = lines.index("# alerts:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line)
    # "#   decline:" → "  decline:"; continuation comments ("#      … #   is the …") go.
    kept = [b[2:] for b in block if not b[2:].strip().startswith("#")]
    return "\n".join([*lines[:start], *kept, *lines[start + len(block) :]]) + "\n"


def test_the_commented_example_compiles_to_the_defaults() -> None:
    text = _uncommented_alerts(EXAMPLE.read_text("utf-8"))
    assert "\nalerts:\n  decline:\n    window: 30d" in text
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert [p for p in problems if not p.warning] == []
    assert spec is not None
    assert spec.decline == DeclineRule()
    assert spec.decline.activities == tuple(Activity)


def test_no_alerts_key_means_no_decline_alerts() -> None:
    spec, _ = validate_text(EXAMPLE.read_text("utf-8"), "mapping.yaml", fixed_env())
    assert spec is not None and spec.decline is None


def test_weeks_shares_and_a_subset_of_activities() -> None:
    extra = (
        "alerts:\n  decline:\n    window: 2w\n    baseline: 12w\n    threshold: 0.3\n"
        "    min_baseline: 0\n    activities: [wins, reaction]\n"
    )
    spec, problems = validate_text(EXAMPLE.read_text("utf-8") + extra, "m.yaml", fixed_env())
    assert [p for p in problems if not p.warning] == []
    assert spec is not None
    assert spec.decline == DeclineRule(
        dt.timedelta(days=14),
        dt.timedelta(days=84),
        Decimal("0.3"),
        Decimal(0),
        (Activity.WINS, Activity.REACTION),
    )
