"""``bridge kpi --declines``: each partner's activity declines, with the figures behind them.

The rule is mapping.yaml's ``alerts.decline`` (read offline); without one, the
defaults (30 days against the 90 before, a fall by half) are used and said so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.kpi.activity import load_activity, since
from bridge.kpi.decline import Decline, DeclineRule, declines, percent
from bridge.kpi.decline_text import decline_line, declines_title
from bridge.notices import Notices
from bridge.store.db import Store
from sync.cli.digest import load_spec


@dataclasses.dataclass(frozen=True, slots=True)
class DeclineReport:
    rule: DeclineRule
    configured: bool  # False: alerts.decline is not in mapping.yaml, the defaults were used
    declines: tuple[Decline, ...]
    names: dict[str, str]


def build(mapping_path: Path, store: Store, now: dt.datetime) -> DeclineReport:
    spec = load_spec(mapping_path, None)
    rule = spec.decline or DeclineRule()
    with store.transaction() as session:
        activity = load_activity(session, since(rule, now))
    names = {code: p.name for code, p in spec.partners.items()}
    found = [d for d in declines(activity, rule, now) if d.partner_code in names]
    return DeclineReport(rule, spec.decline is not None, tuple(found), names)


def as_json(report: DeclineReport) -> dict[str, Any]:
    return {
        "rule": report.rule,
        "configured": report.configured,
        "declines": [
            {**dataclasses.asdict(d), "partner_name": report.names[d.partner_code]}
            | {"text": d.describe()}
            for d in report.declines
        ],
    }


def print_declines(report: DeclineReport, language: str, echo: Callable[[str], None]) -> None:
    notices = Notices(language)
    rule = report.rule
    title = declines_title(rule.window.days, rule.baseline.days, notices)
    source = "alerts.decline" if report.configured else "alerts.decline: —, defaults"
    echo(f"{title} ({percent(-rule.threshold)}; {source})")
    if not report.declines:
        echo(f"  {notices.render('digest_none')}")
    for decline in report.declines:
        echo(f"  • {report.names[decline.partner_code]}: {decline_line(decline, notices)}")
