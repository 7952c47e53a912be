"""Client identifiers in one canonical spelling, so the same client matches across deals.

Pure functions; each returns ``None`` for input that cannot be a valid identifier
(a 7-digit phone, an ИНН with a wrong check digit, an e-mail without a domain), so
garbage never produces a match. Phones are read by :mod:`bridge.phones` (the same
reading that mirrors them); the ИНН check digits are python-stdnum's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from stdnum.ru import inn as ru_inn

from bridge import phones

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Kind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    INN = "inn"
    DOMAIN = "domain"


@dataclass(frozen=True, slots=True, order=True)
class Fingerprint:
    """One normalised identifier of a client: ``(phone, "+79123456789")``."""

    kind: Kind
    value: str


def phone(raw: str) -> str | None:
    """E.164 of a valid number (extension dropped), as :func:`bridge.phones.e164` reads it.

    The same reading mirrors the number (:func:`bridge.phones.mirrored`), so a client
    is screened by exactly the number the deal was mirrored with.
    """
    return phones.e164(raw)


def email(raw: str) -> str | None:
    """Lower case, ``mailto:`` removed, the domain in punycode."""
    text = raw.strip().removeprefix("mailto:").strip().lower()
    if not _EMAIL.match(text):
        return None
    local, host = text.rsplit("@", 1)
    ascii_host = _punycode(host.rstrip("."))
    return f"{local}@{ascii_host}" if ascii_host else None


def inn(raw: str) -> str | None:
    """A Russian taxpayer number (ИНН), 10 digits (company) or 12 (person), checksum valid."""
    digits = re.sub(r"[\s-]", "", raw.strip())
    return digits if ru_inn.is_valid(digits) else None


def domain(raw: str) -> str | None:
    """A website's host: no scheme, ``www.``, port, path or query; IDN → punycode."""
    text = raw.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    host = re.split(r"[/?#]", text, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    host = host.removeprefix("www.")
    if "." not in host:
        return None
    return _punycode(host)


def _punycode(host: str) -> str | None:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
