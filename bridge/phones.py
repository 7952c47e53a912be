"""Phone numbers, read one way for both mirroring and channel-conflict screening.

Every phone the bridge looks at goes through :func:`parse` (Google's numbering
metadata via ``phonenumbers``, default region ``RU``), so the value a deal's
contact is mirrored with and the value its client is screened by come from the
same reading. The behaviour, decided once:

* A **valid** number becomes E.164: ``8 912 345-67-89``, ``+7 (912) 345-67-89``,
  ``912 345 67 89`` → ``+79123456789``. The Russian trunk prefix ``8`` and the old
  international prefix ``8 10`` are understood; ``+7 7xx`` is Kazakhstan (valid,
  ``+77011234567``); other countries keep their code (``+375 29 …`` → ``+37529…``).
* An **extension** (``доб. 12``, ``ext. 3``, ``#5``) reaches the same client, so
  :func:`e164` — the screening key — drops it. :func:`mirrored` keeps it, written
  the way phonenumbers writes and reads it back (``+79123456789 ext. 12``): the
  partner's manager still needs it to get through, and reading the mirrored value
  again gives the same value.
* An **invalid** number (too short, an unassigned range, words) is mirrored as
  typed (stripped) — the bridge never guesses digits into someone's CRM — and is
  never a screening key (:func:`e164` returns ``None``), so garbage never makes two
  clients look like one. An empty value is ``None`` / ``""``.

Hence ``e164(mirrored(x)) == e164(x)`` and ``mirrored(mirrored(x)) == mirrored(x)``
for every input. Pure: no I/O, safe to import from the planner.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

DEFAULT_REGION = "RU"
EXTENSION = " ext. "  # how phonenumbers itself spells an extension, and parses it back


@dataclass(frozen=True, slots=True)
class Phone:
    """A valid number: ``e164`` (``+79123456789``) and its extension, if any (``"12"``)."""

    e164: str
    extension: str | None = None

    def __str__(self) -> str:
        return f"{self.e164}{EXTENSION}{self.extension}" if self.extension else self.e164


@functools.lru_cache(maxsize=8192)
def parse(raw: str, region: str = DEFAULT_REGION) -> Phone | None:
    """``raw`` as a valid phone number, numbers without ``+`` read as ``region``'s; else None.

    Remembered for the last few thousand inputs (a :class:`Phone` is immutable): one pass
    reads each client's phone several times — its contact's mirrored value, the draft's,
    the screening key — and phonenumbers' parse and validation is most of planning's
    time in a first mirror."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164_text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164_text, number.extension or None)


def e164(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The screening key: E.164 of a valid number (extension dropped), ``None`` otherwise."""
    phone = parse(raw, region)
    return phone.e164 if phone is not None else None


def mirrored(raw: str, region: str = DEFAULT_REGION) -> str:
    """The mirrored value: a valid number in E.164 (with its extension), anything else as typed."""
    phone = parse(raw, region)
    return str(phone) if phone is not None else raw.strip()
