"""The resolution cache: each account's catalog kept in the store, shared by every process.

Resolving 200 partners live costs three or four requests per account. The catalogs
read live are kept in the store's ``resolution_cache`` table, keyed by the account
(a hash of the CRM kind and URL) and the *scope* — a hash of the mapping content
the catalog was resolved for. A cached catalog is used only when

* its scope matches: any change of the partner's section (or, for the agency, of
  any part of mapping.yaml) reads the account live again, so a name added to the
  mapping together with a stage just created in the CRM is found;
* it is younger than the caller's ``max_age``: the daemon's drift check re-reads
  every account live on its period, so a cached catalog is never older than that
  (a renamed or deleted stage parks its deals within one period, as before).

On PostgreSQL the live reads of one resolution happen under an advisory lock, so
processes started together read each account once: the second waits for the first
and then finds the catalogs fresh. Accounts that could not be read are not cached.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Protocol

from sqlalchemy import Engine, and_, delete, or_
from sqlmodel import Session, col, select

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.mapping.resolve_catalog import (
    Catalog,
    Read,
    account_key,
    catalog_from_json,
    catalog_to_json,
    read_catalogs,
)
from bridge.mapping.spec import MappingSpec
from bridge.model import Pipeline
from bridge.store.db import exclusive
from bridge.store.tables import ResolutionRow

AGENCY = "agency"
RESOLVE_LOCK = 0x7062_7265_736F  # advisory-lock key around live resolution ("pbreso")
CACHE_TABLE = ResolutionRow.__tablename__
KEEP_OLD = dt.timedelta(days=1)  # rows of another scope are pruned after this long

Key = tuple[str, str]  # (account, scope)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CatalogCache(Protocol):
    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Held while the cache is read, the misses are read live and written back."""
        ...

    def load(self, keys: Mapping[str, Key], newer_than: dt.datetime) -> dict[str, Catalog]: ...

    def save(self, entries: Mapping[Key, Catalog], now: dt.datetime) -> None: ...

    def forget(self) -> None:
        """Drop every cached catalog (the next resolution reads every account live)."""
        ...


def scopes(spec: MappingSpec, labels: Iterable[str]) -> dict[str, str]:
    """The scope of each label: a partner's own section with the agency's; for the agency,
    the whole mapping (every partner's field maps name agency fields)."""
    agency = repr(spec.agency)
    result: dict[str, str] = {}
    for label in labels:
        if label == AGENCY:
            parts = [agency, *(repr(spec.partners[c]) for c in sorted(spec.partners))]
        else:
            parts = [agency, repr(spec.partners[label])]
        result[label] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return result


def catalogs(
    spec: MappingSpec,
    crms: Mapping[str, Crm],
    labels: Iterable[str],
    *,
    cache: CatalogCache | None = None,
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Read]:
    """The catalog of each label that has a CRM: from ``cache`` when it holds one younger
    than ``max_age`` (None: always live), else read live (concurrently) and cached."""
    wanted = [label for label in labels if label in crms]
    if cache is None:
        return read_catalogs({label: crms[label] for label in wanted})
    now = now or utcnow()
    scope = scopes(spec, wanted)
    keys = {label: (account_key(_connection(spec, label)), scope[label]) for label in wanted}
    with cache.exclusive():
        hits = cache.load(keys, now - max_age) if max_age is not None else {}
        live = read_catalogs({label: crms[label] for label in wanted if label not in hits})
        fresh = {keys[label]: c for label, c in live.items() if isinstance(c, Catalog)}
        cache.save(fresh, now)
    return {**hits, **live}


def cached_pipelines(
    engine: Engine, connection: Connection, newer_than: dt.datetime
) -> tuple[Pipeline, ...] | None:
    """The pipelines of ``connection``'s account as its newest cached catalog (any scope)
    read them, if younger than ``newer_than``: what the sync needs of a pipeline (its
    stages) without reading the CRM again in every process (None: read it live)."""
    with Session(engine) as session:
        row = session.exec(
            select(ResolutionRow)
            .where(
                col(ResolutionRow.account) == account_key(connection),
                col(ResolutionRow.read_at) >= newer_than,
            )
            .order_by(col(ResolutionRow.read_at).desc())
            .limit(1)
        ).first()
    catalog = catalog_from_json(row.catalog) if row is not None else None
    return catalog.pipelines if catalog is not None else None


def _connection(spec: MappingSpec, label: str) -> Connection:
    return spec.agency.connection if label == AGENCY else spec.partners[label].connection


class StoreCache:
    """:class:`CatalogCache` in the store's ``resolution_cache`` table."""

    def __init__(self, engine: Engine, *, owned: bool = False) -> None:
        self._engine = engine
        self._owned = owned  # close() disposes of the engine

    def close(self) -> None:
        if self._owned:
            self._engine.dispose()

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return exclusive(self._engine, RESOLVE_LOCK)

    def load(self, keys: Mapping[str, Key], newer_than: dt.datetime) -> dict[str, Catalog]:
        if not keys:
            return {}
        wanted = set(keys.values())
        match = or_(
            *(
                and_(col(ResolutionRow.account) == a, col(ResolutionRow.scope) == s)
                for a, s in wanted
            )
        )
        with Session(self._engine) as session:
            rows = session.exec(
                select(ResolutionRow).where(match, col(ResolutionRow.read_at) >= newer_than)
            ).all()
        found: dict[Key, Catalog] = {}
        for row in rows:
            catalog = catalog_from_json(row.catalog)
            if catalog is not None:
                found[(row.account, row.scope)] = catalog
        return {label: found[key] for label, key in keys.items() if key in found}

    def save(self, entries: Mapping[Key, Catalog], now: dt.datetime) -> None:
        if not entries:
            return
        accounts = sorted({account for account, _ in entries})
        with Session(self._engine) as session, session.begin():
            session.execute(
                delete(ResolutionRow).where(
                    col(ResolutionRow.account).in_(accounts),
                    col(ResolutionRow.read_at) < now - KEEP_OLD,
                )
            )
            for (account, scope), catalog in sorted(entries.items(), key=lambda e: e[0]):
                session.merge(
                    ResolutionRow(
                        account=account, scope=scope, catalog=catalog_to_json(catalog), read_at=now
                    )
                )

    def forget(self) -> None:
        """Drop every cached catalog (the next resolution reads every account live)."""
        with Session(self._engine) as session, session.begin():
            session.execute(delete(ResolutionRow))
