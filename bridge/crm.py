"""The ``Crm`` protocol every adapter implements, and the error tree they share.

Errors are grouped by what the caller should do next::

    CrmError
    ├── TransientError        retry the same work later, with backoff
    │   ├── RateLimited       wait ``retry_after`` seconds, then retry
    │   └── OutcomeUnknown    a write may or may not have happened: look the
    │                         record up by the bridge's stamp before writing again
    ├── PermanentError        this request can never succeed as sent: park the deal
    │   └── NotFound          the record does not exist (deleted, wrong id)
    └── AuthError             credentials rejected: stop this account, alert an admin
        └── AccountBlocked    the CRM blocked the account: stop it until an admin acts

Adapters translate every lower-level failure (HTTP status, library exception,
per-command batch error) into exactly one of these at a single boundary.

Beside the tree live the two errors of pure wire code, shared by both adapters:
:class:`CodecError` (a value that cannot cross the wire) and
:class:`WebhookRejected` (a webhook body that must not be acted on), and the
capability protocols a CRM may implement on top of :class:`Crm`
(:class:`UserDirectory`, :class:`WebhookSubscriptions`, :class:`OAuthGrant`).

Both adapters, ``bridge/bitrix/`` and ``bridge/amocrm/``, have the same modules
with the same function names (``transport.request``, ``errors.classify``,
``codec.decode_deal`` …, ``webhook.Webhook.parse``); the table is in
``docs/adapters.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bridge.model import (
    ChangePage,
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    FieldDef,
    Hint,
    Note,
    Pipeline,
    User,
)


class CrmError(Exception):
    """Base of every error an adapter raises. ``system`` names the account."""

    def __init__(self, message: str, *, system: str = "", code: str = "") -> None:
        super().__init__(message)
        self.system = system
        self.code = code

    def __str__(self) -> str:
        prefix = f"[{self.system}] " if self.system else ""
        suffix = f" ({self.code})" if self.code else ""
        return f"{prefix}{self.args[0]}{suffix}"


class TransientError(CrmError):
    """The CRM or the network failed for a reason that may pass. Retry later with backoff."""


class RateLimited(TransientError):
    """The CRM refused the call because of its rate limit. Wait ``retry_after`` s and retry."""

    def __init__(
        self, message: str, *, retry_after: float, system: str = "", code: str = ""
    ) -> None:
        super().__init__(message, system=system, code=code)
        self.retry_after = retry_after


class OutcomeUnknown(TransientError):
    """A write was sent but its answer was lost. Search by the stamp before writing again."""


class PermanentError(CrmError):
    """The CRM rejected this request as invalid. Retrying will not help: park the deal."""


class NotFound(PermanentError):
    """The record does not exist in the CRM (deleted, or never existed)."""


class Unavailable(CrmError):
    """The account cannot be used now: its connection did not open, its mapping did not
    resolve, or the bridge paused it after repeated failures. Its work waits."""


class AuthError(CrmError):
    """Credentials were rejected or revoked. Stop syncing this account and alert an admin."""


class AccountBlocked(AuthError):
    """The CRM blocked the account (e.g. amoCRM's 403 after abuse). Stop until an admin acts."""


class CodecError(ValueError):
    """A wire value does not have the shape the CRM documents, or a model value cannot
    be expressed on that CRM's wire. Raised by the pure codecs of both adapters."""


class WebhookRejected(ValueError):
    """The request is not an authentic, well-formed event of that CRM. Answer 4xx, do nothing.

    ``reason`` is short and safe to log and send back (it never echoes the body or a
    secret); ``status`` is the 4xx that tells the sender the truth.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one item of a bulk write, matched to its input by ``key``."""

    key: str
    deal_id: str | None = None
    error: CrmError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class WebhookParser(Protocol):
    """One CRM account's webhook endpoint: credentials bound, bytes in, hints out. Pure."""

    def parse(self, body: bytes, content_type: str, *, now: dt.datetime) -> list[Hint]:
        """Hints for the deals the event names; :class:`WebhookRejected` for anything else."""
        ...


@dataclass(frozen=True, slots=True)
class HookSubscription:
    """One webhook the CRM delivers to; a ``disabled`` one was switched off by the CRM."""

    destination: str
    disabled: bool
    settings: tuple[str, ...]


@runtime_checkable
class WebhookSubscriptions(Protocol):
    """A CRM whose webhooks are registered through its API (amoCRM), not in its UI."""

    @property
    def hook_events(self) -> tuple[str, ...]:
        """The events a subscription asks for."""
        ...

    def hook_subscriptions(self) -> list[HookSubscription]:
        """Every webhook the account currently delivers to."""
        ...

    def subscribe_hook(self, destination: str) -> str:
        """Make sure ``destination`` receives deal events; returns what was done."""
        ...


@runtime_checkable
class OAuthGrant(Protocol):
    """An account reached through OAuth: the admin's consent code becomes stored tokens."""

    @property
    def account(self) -> str:
        """The label (partner code) the tokens are stored under."""
        ...

    def complete(self, code: str) -> None:
        """Exchange ``code`` and store the tokens; :class:`AuthError` if it is refused."""
        ...


@runtime_checkable
class UserDirectory(Protocol):
    """A CRM that lists its users, so mapping.yaml can name them instead of giving ids."""

    def users(self) -> Sequence[User]:
        """Every user of the account (active or not), in the CRM's order."""
        ...


@runtime_checkable
class CreateBatches(Protocol):
    """A CRM that sends new deals in requests of a fixed capacity (a Bitrix24 ``batch``
    of 50 commands, an amoCRM ``/leads/complex`` of 50 leads)."""

    def whole_creates(self, drafts: Sequence[DealDraft]) -> int:
        """How many of ``drafts``, from the first, fill whole create requests; the rest
        would go in one request with room left (``len(drafts)`` when none would)."""
        ...


@runtime_checkable
class Crm(Protocol):
    """What the sync engine needs from a CRM account. All calls are blocking.

    Bulk methods take and return many items so an adapter can use the largest
    batch its API allows; per-item failures come back as ``WriteResult.error``
    and never make the adapter re-send items that already succeeded.
    """

    @property
    def system(self) -> str:
        """A short label for logs and hints, e.g. ``bitrix24:agency``."""
        ...

    def pipelines(self) -> Sequence[Pipeline]:
        """Every deal pipeline with its stages, in the CRM's order."""
        ...

    def custom_fields(self) -> Sequence[FieldDef]:
        """Every custom deal field with its options."""
        ...

    def fetch_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        """The current state of the deals with these ids; missing ids are absent."""
        ...

    def find_by_stamp(self, stamps: Sequence[str]) -> dict[str, Deal]:
        """Deals carrying the bridge's stamp, keyed by stamp (for idempotent creation).

        Should two deals carry one stamp, the oldest (lowest id) is the one returned.
        """
        ...

    def find_stamped(
        self, stamps: Sequence[str], *, pipeline_id: str | None = None
    ) -> dict[str, tuple[Deal, ...]]:
        """Every deal carrying one of these stamps, oldest first, keyed by stamp.

        The bulk identity lookup made before any create: the CRM, not the local
        store, says which partner deal belongs to which agency deal. ``pipeline_id``
        is where the bridge creates; an adapter may use it to read in pages instead
        of searching stamp by stamp, and then also sees only that pipeline.
        """
        ...

    def list_changed(self, since: dt.datetime) -> Iterator[ChangePage]:
        """Deals modified at or after ``since``, page by page.

        Yields at least one page. Every page carries the same watermark; see
        :class:`bridge.model.ChangePage` for the no-gap guarantee.
        """
        ...

    def create_deals(self, drafts: Sequence[DealDraft]) -> list[WriteResult]:
        """Create deals (with their contact and company); one result per draft, same order."""
        ...

    def update_deals(self, patches: Sequence[DealPatch]) -> list[WriteResult]:
        """Apply patches; one result per patch, same order."""
        ...

    def fetch_contacts(self, ids: Sequence[str]) -> dict[str, Contact]:
        """Contacts by id; missing ids are absent."""
        ...

    def fetch_companies(self, ids: Sequence[str]) -> dict[str, Company]:
        """Companies by id; missing ids are absent."""
        ...

    def add_notes(self, notes: Sequence[Note]) -> list[WriteResult]:
        """Add timeline comments / notes; ``WriteResult.key`` is the note's deal id."""
        ...

    def list_notes(self, deal_id: str) -> list[Note]:
        """Every note on one deal, oldest first."""
        ...

    def list_notes_many(self, deal_ids: Sequence[str]) -> dict[str, list[Note]]:
        """Every note on each of these deals, oldest first, keyed by deal id.

        The bulk note read of a pass (notes mirroring): every id asked for is a key, with
        an empty list for a deal without notes (or one that does not exist). An adapter
        reads in the largest units its API allows (Bitrix24: 50 lists per ``batch``;
        amoCRM: one list filtered by many lead ids).
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def group_by_stamp(deals: Iterable[Deal], stamps: Iterable[str]) -> dict[str, tuple[Deal, ...]]:
    """The deals carrying each wanted stamp, oldest (lowest id) first; one entry per deal id."""
    wanted = set(stamps)
    unique = {d.id: d for d in deals if d.stamp and d.stamp in wanted}
    found: dict[str, list[Deal]] = {}
    for deal in sorted(unique.values(), key=_age):
        found.setdefault(deal.stamp or "", []).append(deal)
    return {stamp: tuple(group) for stamp, group in found.items()}


def _age(deal: Deal) -> tuple[int, str]:
    return (int(deal.id), "") if deal.id.isdigit() else (1 << 62, deal.id)
