"""Channel conflicts: normalised client identifiers checked against other partners' deals.

* :mod:`~bridge.channels.normalise` — pure: phone (E.164 of a valid number, read
  by :mod:`bridge.phones` as for mirroring), e-mail, ИНН (checksum), website
  domain (punycode);
* :mod:`~bridge.channels.conflicts` — the store side: record handovers, check,
  screen a batch of new partner deals (flag, comment, hold until confirmed).

Importing this package registers ``channel_handover`` and ``channel_flag`` on
``SQLModel.metadata``.
"""

from __future__ import annotations

from bridge.channels.conflicts import (
    Conflict,
    Draft,
    Handover,
    ScreenResult,
    check_conflicts,
    confirm,
    conflict_comment,
    fingerprints_of,
    held,
    record_handover,
    screen_new_handovers,
)
from bridge.channels.normalise import Fingerprint, Kind
from bridge.channels.tables import ChannelFlagRow, ChannelHandoverRow

__all__ = [
    "ChannelFlagRow",
    "ChannelHandoverRow",
    "Conflict",
    "Draft",
    "Fingerprint",
    "Handover",
    "Kind",
    "ScreenResult",
    "check_conflicts",
    "confirm",
    "conflict_comment",
    "fingerprints_of",
    "held",
    "record_handover",
    "screen_new_handovers",
]
