"""The agency console (``/console/…``) and the partner cabinet (``/p/…``).

Server-rendered pages (Jinja2 templates, one small stylesheet, no scripts) on the
daemon's own FastAPI app: :func:`mount` adds them. Russian by default, English
with ``?lang=en`` (remembered in a cookie). The console signs in with
``BRIDGE_ADMIN_TOKEN``; the cabinet opens from a signed per-partner link.
"""

from __future__ import annotations

from sync.web.context import WebContext
from sync.web.mount import mount

__all__ = ["WebContext", "mount"]
