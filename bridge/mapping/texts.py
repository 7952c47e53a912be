"""``texts:`` in mapping.yaml: the partner-facing wording an agency may rephrase.

Keys are those of the notices (:mod:`bridge.notices`) and of the statements
(:mod:`bridge.wording`); a template may use only the placeholders of the
text it replaces, so a typo is caught here, with its line, not in a partner's CRM.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from bridge.mapping.report import Reporter
from bridge.notices import MESSAGES as NOTICE_TEXTS
from bridge.notices import placeholders
from bridge.wording import MESSAGES as STATEMENT_TEXTS

Texts = Mapping[str, Mapping[str, str]]  # language → key → template


def check_texts(texts: Texts, out: Reporter) -> None:
    for language, overrides in texts.items():
        defaults = {**STATEMENT_TEXTS[language], **NOTICE_TEXTS[language]}
        for key, template in overrides.items():
            path = ("texts", language, key)
            if key not in defaults:
                close = difflib.get_close_matches(key, defaults, n=1)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else f"known: {', '.join(sorted(defaults))}"
                )
                out.error(path, f"unknown text '{key}' — {hint}", at_key=True)
                continue
            extra = placeholders(template) - placeholders(defaults[key])
            if extra:
                allowed = ", ".join(f"{{{p}}}" for p in sorted(placeholders(defaults[key])))
                out.error(
                    path,
                    f"unknown placeholder(s) {', '.join(sorted(extra))} — this text can use: "
                    f"{allowed or 'none'}",
                )


def notice_overrides(texts: Texts) -> dict[str, dict[str, str]]:
    return _only(texts, NOTICE_TEXTS)


def statement_overrides(texts: Texts, language: str) -> dict[str, str]:
    return _only(texts, STATEMENT_TEXTS).get(language, {})


def _only(texts: Texts, catalog: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {
        language: {k: v for k, v in overrides.items() if k in catalog[language]}
        for language, overrides in texts.items()
    }
