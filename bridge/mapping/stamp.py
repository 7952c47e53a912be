"""The bridge's own stamp field on partner CRMs that need one (amoCRM).

Bitrix24 keeps the stamp in the deal's built-in ``ORIGIN_ID``; amoCRM needs a
text custom field. ``bridge check --fix`` creates it; without ``--fix`` the
check only says whether it exists.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bridge.crm import Crm, CrmError
from bridge.mapping.errors import KeyPath, dotted
from bridge.mapping.report import Reporter


@runtime_checkable
class StampFieldHost(Protocol):
    """A CRM whose stamp lives in a custom field the bridge manages."""

    def ensure_stamp_field(self) -> str:
        """The stamp field's id, creating the field if it does not exist."""
        ...


@runtime_checkable
class StampFieldProbe(Protocol):
    def find_stamp_field(self) -> str | None:
        """The stamp field's id, or None if it does not exist (never creates it)."""
        ...


def stamp_field(crm: Crm, path: KeyPath, out: Reporter, *, fix: bool) -> str | None:
    if not isinstance(crm, StampFieldHost):
        return None  # the stamp lives in a built-in field
    try:
        found = crm.find_stamp_field() if isinstance(crm, StampFieldProbe) else None
        if fix and found is None:
            created = crm.ensure_stamp_field()
            if isinstance(crm, StampFieldProbe):  # else we cannot tell "found" from "made"
                out.note_created(f"{dotted(path)}: created the bridge's stamp field (id {created})")
            return created
    except CrmError as exc:
        out.error((*path, "connection"), f"cannot create the stamp field: {exc}")
        return None
    if found is None:
        message = (
            "the bridge's stamp field does not exist yet — run 'bridge check --fix' to create "
            "it (it is also created with the first deal)"
        )
        out.warn((*path, "connection"), message)
    return found
