"""Every phrase the templates translate has its English; every coded key has Russian."""

from __future__ import annotations

import re
from pathlib import Path

from sync.web.i18n import EN, RU

TEMPLATES = Path(__file__).resolve().parents[2] / "sync" / "web" / "templates"
PHRASE = re.compile(r"""\bt\((["'])([^"']+)\1\)""")


def test_every_template_phrase_has_english() -> None:
    phrases = {
        match.group(2)
        for path in TEMPLATES.rglob("*.html")
        for match in PHRASE.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(phrases) > 100
    assert sorted(p for p in phrases if p not in EN) == []


def test_coded_keys_exist_in_both_languages() -> None:
    assert sorted(set(RU) - set(EN)) == []
