"""``bridge sandbox bitrix24`` and ``bridge sandbox amocrm``: a CRM emulator served over HTTP.

With the demo, the only product module allowed to import :mod:`bridge.sandbox` (an
import contract in ``pyproject.toml`` keeps it so); the emulators load only when a
command runs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(help="Run a CRM emulator over HTTP on 127.0.0.1.", no_args_is_help=True)


class Seed(StrEnum):
    demo = "demo"
    empty = "empty"


class Plan(StrEnum):
    standard = "standard"
    enterprise = "enterprise"


@app.command("bitrix24")
def sandbox_bitrix24(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free port)")] = 0,
    user: Annotated[int, typer.Option(help="User id in the webhook URL")] = 1,
    secret: Annotated[str, typer.Option(help="Webhook secret in the URL")] = "sandbox",  # noqa: S107
    seed: Annotated[Seed, typer.Option(help="Initial data")] = Seed.demo,
    plan: Annotated[Plan, typer.Option(help="Rate-limit plan")] = Plan.standard,
) -> None:
    """Serve an emulated Bitrix24 portal until interrupted."""
    from bridge.sandbox.bitrix.portal import serve_cli

    serve_cli(port=port, user=user, secret=secret, seed=seed.value, plan=plan.value)


@app.command("amocrm")
def sandbox_amocrm(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free port)")] = 0,
    subdomain: Annotated[str, typer.Option(help="Account subdomain")] = "partner",
    token: Annotated[str | None, typer.Option(help="Long-lived token to accept")] = None,
    client_id: Annotated[str | None, typer.Option(help="OAuth integration id")] = None,
    client_secret: Annotated[str | None, typer.Option(help="OAuth integration secret")] = None,
    seed: Annotated[Seed, typer.Option(help="Initial data")] = Seed.demo,
    redirect_uri: Annotated[
        str | None, typer.Option(help="The integration's registered OAuth redirect URI")
    ] = None,
) -> None:
    """Serve an emulated amoCRM account until interrupted."""
    from bridge.sandbox.amocrm.account import serve_cli

    serve_cli(
        port=port,
        subdomain=subdomain,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        seed=seed.value,
        redirect_uri=redirect_uri,
    )
