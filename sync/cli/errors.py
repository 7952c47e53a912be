"""The CLI's error boundary: whatever a command raises, the user reads one line, never a traceback.

Every ``bridge`` command runs inside :class:`BoundaryGroup`. Known error types
become a line that names the bad value and says what to do; anything else
becomes one line plus "run with --verbose for details" (``--verbose`` prints
the traceback too). Exit codes: 2 for a usage error (a bad option, argument or
URL on the command line), 1 for a runtime failure, 130 for Ctrl-C.

Commands raise :class:`CliError` (or :func:`usage`) for their own refusals, and
open the store through :func:`open_store` so a bad ``--db-url`` is named.
"""

from __future__ import annotations

import errno
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

# Typer ships its own copy of click; its exception and context types live here.
from typer._click import Context
from typer._click.exceptions import BadParameter, NoSuchOption, UsageError
from typer._click.utils import echo
from typer.core import TyperGroup

if TYPE_CHECKING:
    from bridge.store.db import Store

log = logging.getLogger(__name__)

RUNTIME = 1
USAGE = 2
INTERRUPTED = 130
VERBOSE_HINT = "run with --verbose for details"
_NEGATIVE = re.compile(r"^-\d[\d\s.,]*$")


class CliError(Exception):
    """A refusal or failure the command can explain in one line (``exit_code`` 1 or 2)."""

    def __init__(self, message: str, exit_code: int = RUNTIME) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def usage(message: str) -> CliError:
    """A usage error: the command line itself is wrong (exit 2)."""
    return CliError(message, USAGE)


def safe_url(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_store(url: str, *, existing: bool = False) -> Store:
    """Open (and migrate) the store at ``url``; a bad or unreachable URL is a :class:`CliError`.

    ``existing``: a command that only reads — a SQLite store that is not there is said in
    one line (nothing has synced with these settings: another folder, another URL), not
    created empty."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from bridge.store.db import Store

    if existing and (missing := _missing_sqlite_file(url)) is not None:
        raise CliError(
            f"no store at {missing}: nothing has synced with these settings — run the "
            "command in the bridge's folder, or point --db-url / BRIDGE_DB_URL at its store"
        )
    try:
        return Store.open(url)
    except (ArgumentError, NoSuchModuleError):
        raise usage(
            f"--db-url {safe_url(url)!r} is not a database URL "
            "(e.g. sqlite:///bridge.db or postgresql://user@host/dbname)"
        ) from None
    except DBAPIError as exc:
        raise CliError(
            f"cannot open the database {safe_url(url)}: {_first_line(exc.orig or exc)} "
            "— check that it runs and that --db-url / BRIDGE_DB_URL is right"
        ) from None


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite ``url`` names, when it does not exist (None for anything else)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # Store.open names a bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path.resolve()


def write_file(path: Path, text: str, what: str = "file") -> None:
    """Write ``text`` to ``path``; a missing directory or a permission problem is one line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write the {what} {path}: {_os_reason(exc, True)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _os_reason(exc: OSError, writing: bool = False) -> str:
    reason = exc.strerror or _first_line(exc)
    if exc.errno == errno.ENOENT and writing:
        return f"{reason} — create the directory first or choose another path"
    if exc.errno == errno.ENOENT:
        return f"{reason} — check the path"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{reason} — choose a path you may write to"
    return reason


def describe(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for ``exc``; ``VERBOSE_HINT`` when it was not foreseen."""
    from bridge.secrets import redact

    message, code = _describe(exc)
    return redact(message), code


def _describe(exc: BaseException) -> tuple[str, int]:  # noqa: PLR0911 - one branch per known type
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.config import SettingsInvalid
    from bridge.crm import CrmError
    from bridge.mapping.errors import MappingInvalid

    if isinstance(exc, CliError):
        return str(exc), exc.exit_code
    if isinstance(exc, MappingInvalid):
        lines = [str(p) for p in exc.problems]
        lines.append(f"{len(lines)} problem(s); fix them, then run `bridge check`")
        return "\n".join(lines), RUNTIME
    if isinstance(exc, SettingsInvalid):
        return "\n".join(exc.problems), USAGE
    if isinstance(exc, CrmError):
        return f"{exc} — check the connection settings and that the CRM is reachable", RUNTIME
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"{exc.strerror or _first_line(exc)} — stop the other process "
            "or choose another port (BRIDGE_HTTP_PORT)",
            RUNTIME,
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {_os_reason(exc)}", RUNTIME
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {_first_line(exc)} — {VERBOSE_HINT}", RUNTIME
    return f"unexpected error: {type(exc).__name__}: {_first_line(exc)} — {VERBOSE_HINT}", RUNTIME


def _negative_number(args: Sequence[str]) -> str | None:
    return next((a for a in args if _NEGATIVE.match(a)), None)


def _name_the_value(exc: BadParameter) -> None:
    """Put the refused value into a type-conversion message that does not show it."""
    errors = getattr(exc.__cause__, "errors", None)
    if not callable(errors):
        return
    values = [e.get("input") for e in errors() if isinstance(e, dict)]
    value = next((v for v in values if isinstance(v, str)), None)
    if value is not None and repr(value) not in exc.message:
        exc.message = f"{value!r}: {exc.message}"


class BoundaryGroup(TyperGroup):
    """The top-level command group: turns every exception into a short message and exit code."""

    def invoke(self, ctx: Context) -> Any:
        pending = [*ctx._protected_args, *ctx.args]
        try:
            return super().invoke(ctx)
        except NoSuchOption as exc:
            number = _negative_number(pending)
            if number is None:
                raise
            raise UsageError(
                f"{number!r}: negative numbers are not accepted here — amounts are always "
                "positive (to reverse a ledger entry use `bridge ledger void ENTRY_ID`)",
                exc.ctx,
            ) from None
        except BadParameter as exc:
            _name_the_value(exc)
            raise
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            echo("interrupted", err=True)
            raise typer.Exit(INTERRUPTED) from None
        except Exception as exc:
            if ctx.params.get("verbose"):
                log.error("command failed", exc_info=exc)
            message, code = describe(exc)
            for line in message.splitlines() or [message]:
                echo(f"error: {line}", err=True)
            sys.stderr.flush()
            raise typer.Exit(code) from None
