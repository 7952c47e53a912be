"""Connections: credentials by ``${VAR}`` reference only, expanded into :class:`Secret`."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.mapping.compiled import Connection, CrmKind
from bridge.mapping.env import Environment, expand, is_reference, missing_variable
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter
from bridge.mapping.schema import AgencySpec, ConnectionSpec
from bridge.secrets import Secret

_SECRET_KEYS = ("token", "client_secret", "webhook_secret", "application_token")


@dataclass
class _Expander:
    env: Environment
    out: Reporter
    prefix: str  # suggested variable prefix, e.g. "ALFA"

    def value(self, raw: str | None, path: KeyPath, *, secret: bool) -> str | None:
        if raw is None:
            return None
        key = str(path[-1])
        if secret and not is_reference(raw):
            name = f"{self.prefix}_{key.upper()}"
            message = (
                f"inline secret — put the value in .env as {name}=… and write '${{{name}}}' here"
            )
            self.out.error(path, message)
            return None
        text, missing = expand(raw, self.env)
        for name in missing:
            self.out.error(path, missing_variable(name, self.env))
        return None if missing else text


def agency_connection(spec: AgencySpec, env: Environment, out: Reporter) -> Connection | None:
    expander = _Expander(env, out, "AGENCY_B24")
    url = expander.value(spec.webhook, ("agency", "webhook"), secret=True)
    app_token = expander.value(spec.application_token, ("agency", "application_token"), secret=True)
    if url is None:
        return None
    token = Secret(app_token) if app_token else None
    return Connection(CrmKind.BITRIX24, Secret(url), application_token=token)


def partner_connection(
    code: str, kind: CrmKind, spec: ConnectionSpec, env: Environment, out: Reporter
) -> Connection | None:
    path: KeyPath = ("partners", code, "connection")
    suffix = "B24" if kind is CrmKind.BITRIX24 else "AMO"
    expander = _Expander(env, out, f"{code.upper().replace('-', '_')}_{suffix}")
    if not _shape_ok(kind, spec, path, out):
        return None
    url_is_secret = kind is CrmKind.BITRIX24  # a Bitrix24 webhook URL carries its secret
    url = expander.value(spec.url, (*path, "url"), secret=url_is_secret)
    found = {
        key: expander.value(getattr(spec, key), (*path, key), secret=True) for key in _SECRET_KEYS
    }
    client_id = expander.value(spec.client_id, (*path, "client_id"), secret=False)
    if url is None or any(getattr(spec, k) is not None and found[k] is None for k in found):
        return None
    return Connection(
        kind,
        Secret(url),
        token=_secret(found["token"]),
        client_id=client_id,
        client_secret=_secret(found["client_secret"]),
        redirect_uri=spec.redirect_uri,
        webhook_secret=_secret(found["webhook_secret"]),
        application_token=_secret(found["application_token"]),
        company_tax_id_field=spec.company_tax_id_field,
    )


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _shape_ok(kind: CrmKind, spec: ConnectionSpec, path: KeyPath, out: Reporter) -> bool:
    oauth = spec.client_id is not None or spec.client_secret is not None
    if kind is CrmKind.BITRIX24:
        extra = [
            k
            for k in ("token", "client_id", "client_secret", "webhook_secret")
            if getattr(spec, k) is not None
        ]
        for key in extra:
            message = f"a Bitrix24 connection is its webhook URL only — remove '{key}'"
            out.error((*path, key), message, at_key=True)
        if spec.company_tax_id_field is not None:
            message = (
                "Bitrix24 keeps a company's ИНН in its requisites (RQ_INN) — "
                "remove 'company_tax_id_field'"
            )
            out.error((*path, "company_tax_id_field"), message, at_key=True)
            extra.append("company_tax_id_field")
        return not extra
    if spec.token is not None and oauth:
        message = "choose one: 'token' (long-lived) or 'client_id' + 'client_secret' (OAuth)"
        out.error((*path, "token"), message, at_key=True)
        return False
    if spec.token is None and not (spec.client_id and spec.client_secret):
        message = (
            "amoCRM needs 'token: ${…}' (a long-lived token) or 'client_id' + "
            "'client_secret: ${…}' (OAuth)"
        )
        out.error(path, message, at_key=True)
        return False
    return True
