"""A statement's HTML page as PDF bytes, with WeasyPrint (no browser needed).

WeasyPrint needs Pango/HarfBuzz from the system and a font with Cyrillic
(DejaVu); the Docker image and ``.ci/run`` install them.
"""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: loading Pango takes a moment

    pdf = HTML(string=html).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
