"""HTML → PDF/PNG through a headless Chromium, when one is installed (optional).

The browser only ever opens a local file; background networking, component
updates and sync are switched off so it makes no connections of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


class NoBrowserError(RuntimeError):
    """No headless browser found: install ``chromium`` or use the HTML statement and print it."""


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise NoBrowserError(f"none of {', '.join(BROWSERS)} is on PATH; the HTML file prints as is")


def _run(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = [find_browser(), *FLAGS, f"--user-data-dir={profile}", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603


def to_pdf(html: Path, pdf: Path) -> None:
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()])


def to_png(html: Path, png: Path, *, width: int = 900, height: int = 1270) -> None:
    _run(
        [
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
    )
