"""What resolution reads from one CRM account: its pipelines, custom fields, users and
the bridge's stamp field — read live (concurrently for many accounts) or from a cache.

Resolution itself (:mod:`bridge.mapping.resolve`) is pure once it has a
:class:`Catalog` per account; reading them is what costs (three or four requests per
account). :func:`read_catalogs` reads the accounts it is given on a thread pool, so
200 partners cost about the slowest account's round trips, not their sum.

A catalog is plain data: :func:`catalog_to_json` / :func:`catalog_from_json` carry
it through the store's cache (:mod:`bridge.mapping.resolve_cache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bridge.crm import Crm, CrmError, UserDirectory
from bridge.mapping.compiled import Connection
from bridge.mapping.stamp import StampFieldHost, StampFieldProbe
from bridge.model import EnumOption, FieldDef, FieldKind, Pipeline, Semantics, Stage, User

MAX_THREADS = 32  # accounts read at once; each account's own rate limiter still paces it
CATALOG_FORMAT = 1  # bumped when the JSON shape changes: older cached rows are not used


@dataclass(frozen=True, slots=True)
class Catalog:
    """One account's names and ids, as resolution needs them."""

    pipelines: tuple[Pipeline, ...]
    fields: tuple[FieldDef, ...]
    users: tuple[User, ...] | None = None  # None: the CRM cannot list its users
    stamp_managed: bool = False  # the stamp lives in a custom field the bridge manages
    stamp_field_id: str | None = None  # that field's id, None if it does not exist yet


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An account whose catalog could not be read, with the CRM's reason."""

    reason: str


Read = Catalog | Unreadable


def account_key(connection: Connection) -> str:
    """A stable key for one CRM account that reveals nothing of its URL (which holds secrets)."""
    digest = hashlib.sha256(f"{connection.kind.value}\n{connection.url.reveal()}".encode())
    return digest.hexdigest()


def read_catalog(crm: Crm) -> Read:
    """The account's catalog, read live; :class:`Unreadable` when the CRM refuses."""
    try:
        users = tuple(crm.users()) if isinstance(crm, UserDirectory) else None
        pipelines, fields = tuple(crm.pipelines()), tuple(crm.custom_fields())
        managed = isinstance(crm, StampFieldHost)
        stamp = crm.find_stamp_field() if isinstance(crm, StampFieldProbe) and managed else None
    except CrmError as exc:
        return Unreadable(str(exc))
    return Catalog(pipelines, fields, users, managed, stamp)


def read_catalogs(crms: Mapping[str, Crm], *, threads: int = MAX_THREADS) -> dict[str, Read]:
    """Every CRM's catalog (keyed like ``crms``), read concurrently."""
    if len(crms) <= 1:
        return {label: read_catalog(crm) for label, crm in crms.items()}
    with ThreadPoolExecutor(min(threads, len(crms)), thread_name_prefix="resolve") as pool:
        futures = {label: pool.submit(read_catalog, crm) for label, crm in crms.items()}
        return {label: future.result() for label, future in futures.items()}


def catalog_to_json(catalog: Catalog) -> dict[str, Any]:
    return {
        "format": CATALOG_FORMAT,
        "pipelines": [
            {
                "id": p.id,
                "name": p.name,
                "default": p.is_default,
                "stages": [
                    [s.id, s.name, s.pipeline_id, s.semantics.value, s.sort] for s in p.stages
                ],
            }
            for p in catalog.pipelines
        ],
        "fields": [
            {
                "id": f.id,
                "name": f.name,
                "kind": f.kind.value,
                "multiple": f.multiple,
                "code": f.code,
                "options": [[o.id, o.value] for o in f.options],
            }
            for f in catalog.fields
        ],
        "users": None
        if catalog.users is None
        else [[u.id, u.name, u.email] for u in catalog.users],
        "stamp_managed": catalog.stamp_managed,
        "stamp_field_id": catalog.stamp_field_id,
    }


def catalog_from_json(data: Mapping[str, Any]) -> Catalog | None:
    """The catalog, or None for a row of another format (it is then read live again)."""
    if data.get("format") != CATALOG_FORMAT:
        return None
    pipelines = tuple(
        Pipeline(
            p["id"],
            p["name"],
            tuple(Stage(s[0], s[1], s[2], Semantics(s[3]), s[4]) for s in p["stages"]),
            p["default"],
        )
        for p in data["pipelines"]
    )
    fields = tuple(
        FieldDef(
            f["id"],
            f["name"],
            FieldKind(f["kind"]),
            f["multiple"],
            tuple(EnumOption(o[0], o[1]) for o in f["options"]),
            f["code"],
        )
        for f in data["fields"]
    )
    users = _users(data["users"])
    return Catalog(pipelines, fields, users, data["stamp_managed"], data["stamp_field_id"])


def _users(rows: Sequence[Sequence[str | None]] | None) -> tuple[User, ...] | None:
    if rows is None:
        return None
    return tuple(User(str(r[0]), str(r[1]), r[2]) for r in rows)
