"""What a contract-suite backend provides: a ``Crm`` plus out-of-band controls.

Each CRM implementation supplies one factory (``tests/contract/backend_<name>.py``)
yielding a :class:`Backend`: the adapters wired to their sandbox over real HTTP,
and the in-memory ``MemoryCrm`` the other tests use. The suite in
``test_contract.py`` uses nothing else, so every implementation passes the
same tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from bridge.crm import Crm
from bridge.model import FieldDef, Pipeline
from bridge.sandbox.emulator import Fault


class Backend(Protocol):
    name: str
    crm: Crm
    # A pipeline with at least two open stages, a won and a lost stage.
    pipeline: Pipeline
    currency: str
    # A custom string field on deals, writable through the adapter.
    text_field: FieldDef
    # Every raw credential involved (the good ones and the rejected ones): none of
    # them may ever appear in an error message or a repr.
    secrets: tuple[str, ...]

    def user_edit_title(self, deal_id: str, title: str) -> None:
        """Change a deal as a person in the CRM's UI would (moves its modification time)."""
        ...

    def user_delete(self, deal_id: str) -> None:
        """Delete a deal as a person would."""
        ...

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward."""
        ...

    def arm_fault(self, fault: Fault) -> None:
        """Make the sandbox fail the next matching requests."""
        ...

    @property
    def requests(self) -> int:
        """Requests the backend has served so far (HTTP requests; calls for the fake)."""
        ...

    def now(self) -> dt.datetime:
        """The sandbox's current time (aware UTC)."""
        ...

    def seed_deals(self, count: int) -> list[str]:
        """Create ``count`` deals in ``pipeline`` directly in the sandbox (no HTTP); their ids."""
        ...

    def crm_with_bad_credentials(self) -> Crm:
        """An adapter for the same sandbox whose credentials the sandbox rejects."""
        ...
