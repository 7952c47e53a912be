"""Client identifiers in one canonical spelling, so the same client matches across deals.

Pure functions; each returns ``None`` for input that cannot be a valid identifier
(a 7-digit phone, an ИНН with a wrong check digit, an e-mail without a domain), so
garbage never produces a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_EXTENSION = re.compile(r"(доб\.?|добавочный|ext\.?|extension|x|#).*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


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
    """E.164 with Russian numbering: ``8 912 …``, ``+7 912 …`` and ``912 …`` → ``+7912…``.

    An extension (``доб. 12``) is dropped: it reaches the same client. ``8 10 …`` is the
    old Russian international prefix. Other countries keep their ``+`` code.
    """
    text = _EXTENSION.sub("", raw.strip())
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return _e164(digits)
    if digits.startswith("810") and len(digits) > 11:
        return _e164(digits[3:])
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    return None


def _e164(digits: str) -> str | None:
    if digits.startswith("7"):
        return "+" + digits if len(digits) == 11 else None
    return "+" + digits if 8 <= len(digits) <= 15 else None


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
    if not digits.isdigit() or len(digits) not in (10, 12):
        return None
    numbers = [int(d) for d in digits]
    if len(numbers) == 10:
        ok = _check(numbers, _INN10) == numbers[9]
    else:
        ok = _check(numbers, _INN11) == numbers[10] and _check(numbers, _INN12) == numbers[11]
    return digits if ok else None


def _check(numbers: list[int], weights: tuple[int, ...]) -> int:
    return sum(n * w for n, w in zip(numbers, weights, strict=False)) % 11 % 10


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
