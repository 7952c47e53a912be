"""``bridge demo`` plays its whole story and ends by itself."""

from __future__ import annotations

import io

from rich.console import Console

from sync.cli.demo import run_demo


def test_the_demo_story_completes() -> None:
    out = io.StringIO()
    assert run_demo(Console(file=out, width=140)) == 0
    text = out.getvalue().replace("\u00a0", " ").replace("\u202f", " ")  # Babel's no-break spaces
    assert "не дождались" not in text, text
    assert "Готово" in text
    assert text.count("появилась у партнёра") == 4
    assert "100 000,00 ₽" in text  # 40 % of the 250 000 ₽ the client paid Альфа
    # It ends by printing the console (with its token) and a partner-cabinet link.
    assert "Консоль агентства: http://127.0.0.1:" in text and "/console/" in text
    assert "/p/enter/" in text
