"""The payout, legal, tier, effective-date and two-level keys: validated with line numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bridge.mapping.compiled import ScheduleKind, Side, TierBy, TierMode
from bridge.mapping.validate import validate_text
from tests.mapping.conftest import EXAMPLE, fixed_env

TEXT = EXAMPLE.read_text(encoding="utf-8")
BETA_COMMISSION = """    commission:
      rules:
        - kind: percent_of_fee  # agency pays 10 % of its fee on the deal
          percent: 10
          payer: agency
          fee_field: UF_CRM_AGENCY_FEE
"""


def commented_example(source: str = TEXT) -> str:
    """The example with its commented tiers / parent / override block switched on (for beta)."""
    lines = source.splitlines()
    start = lines.index(
        "# Progressive commission, effective dates and two-level programmes (under a partner):"
    )
    split = lines.index("# and under the parent (alfa):")
    end = next(i for i in range(split + 1, len(lines)) if not lines[i].startswith("#  "))
    child = "\n".join("  " + line[2:] for line in lines[start + 1 : split]) + "\n"
    parent = "\n".join("  " + line[2:] for line in lines[split + 1 : end]) + "\n"
    assert BETA_COMMISSION in source
    text = source.replace(BETA_COMMISSION, child)
    return text.replace("\n  beta:\n", "\n" + parent + "\n  beta:\n")


def test_the_shipped_payout_keys_compile() -> None:
    spec, problems = validate_text(TEXT, "mapping.yaml", fixed_env())
    assert problems == [] and spec is not None
    alfa, beta = spec.partners["alfa"], spec.partners["beta"]
    assert alfa.payouts is not None and alfa.payouts.kind is ScheduleKind.WITHIN
    assert alfa.payouts.within_days == 3 and not alfa.payouts.netting
    assert beta.payouts is not None and beta.payouts.days == (1, 15) and beta.payouts.netting
    assert alfa.legal is not None and alfa.legal.inn == "7701234567"
    assert alfa.legal.name == "ООО «Веб-Студия Альфа»"  # Cyrillic round-trips


def test_the_commented_tiers_parent_and_override_are_valid_when_switched_on() -> None:
    spec, problems = validate_text(commented_example(), "mapping.yaml", fixed_env())
    assert [str(p) for p in problems] == [] and spec is not None
    beta = spec.partners["beta"]
    old, new = beta.rules
    assert (old.rate, old.until, old.tiers) == (Decimal("0.25"), dt.date(2026, 10, 1), None)
    assert new.since == dt.date(2026, 10, 1) and new.tiers is not None
    assert (new.tiers.mode, new.tiers.by) == (TierMode.MARGINAL, TierBy.DEAL_AMOUNT)
    assert [(t.up_to, t.rate) for t in new.tiers.tiers] == [
        (Decimal(1_000_000), Decimal("0.10")),
        (None, Decimal("0.15")),
    ]
    assert beta.override is not None
    assert (beta.override.parent, beta.override.rate, beta.override.payer) == (
        "alfa",
        Decimal("0.05"),
        Side.AGENCY,
    )
    assert spec.partners["alfa"].override is None  # the parent earns; it has no parent


def _line(text: str, needle: str) -> int:
    lines = enumerate(text.splitlines(), 1)
    return next(i for i, line in lines if needle in line and not line.startswith("#"))


WITHIN = "      within: 3d                # pay within 3 days of the client's payment"
TWICE = "    twice_monthly: [1, 15]"
INN = '      inn: "7701234567"'
TIER = "#           - up_to: 1000000          # inclusive"
TIERED_PAYER = "#         payer: partner\n#         from:"
CASES = [
    (WITHIN, "      within: 3\n      weekly: friday", "payouts:                    # replaces",
     "exactly one of within"),
    (WITHIN, "      within: three days", "within: three", "is not a number of days"),
    (TWICE, "    twice_monthly: [1, 40]", "twice_monthly: [1, 40]",
     "40 is not a day of the month"),
    (INN, '      inn: "77012"', 'inn: "77012"', "inn '77012' must be 10 or 12 digits"),
    ("#         mode: marginal", "#         # mode:", "- kind: percent_of_amount     # from",
     "tiers need 'mode:'"),
    (TIER, "#           - up_to: 0", "up_to: 0", "up_to 0 must be above the previous"),
    ('#         from: "2026-10-01"', '#         from: "2026-13-01"', "2026-13-01",
     "is not a date"),
    ("#   parent: alfa", "#   parent: gamma", "parent: gamma",
     "parent 'gamma' is not a partner code"),
    ("#   parent: alfa", "#   parent: beta", "parent: beta", "cannot be its own parent"),
    (TIERED_PAYER, TIERED_PAYER.replace("\n", "\n#         percent: 7\n"), "percent: 7",
     "either 'percent:' or 'tiers:'"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "needle", "message"), CASES)
def test_mistakes_are_reported_on_their_line(old: str, new: str, needle: str, message: str) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new)
    if old.startswith("#"):  # a mistake in the commented block, switched on
        text = commented_example(text)
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    errors = [p for p in problems if not p.warning and message in p.message]
    assert spec is None and errors, [str(p) for p in problems]
    assert errors[0].line == _line(text, needle), str(errors[0])


def test_a_misspelt_from_is_named_with_the_key_as_written_in_yaml() -> None:
    text = commented_example(
        TEXT.replace('#         from: "2026-10-01"', '#         form: "2026-10-01"')
    )
    _, problems = validate_text(text, "mapping.yaml", fixed_env())
    (problem,) = problems
    assert problem.line == _line(text, 'form: "2026-10-01"')
    assert "did you mean 'from'" in problem.message, problem.message
