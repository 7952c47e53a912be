"""Named converters: normalise a side's raw value, translate it to the other side.

Two steps, both pure:

* :func:`normalize` turns a raw :data:`~bridge.model.FieldValue` read from one side
  into a :data:`~sync.plan.types.CanonicalValue` *in that side's terms* (a phone as
  :func:`bridge.phones.mirrored` writes it, an e-mail lower-cased, a bare number as
  ``Money`` in the side's currency).
  Normalising twice changes nothing, so comparing normalised values is stable.
* :func:`translate` maps a normalised value to the other side's terms. It returns
  :class:`Ok`, :class:`Unset` (leave the target alone) or :class:`Refused` (park
  the deal with the reason; never guess).

Decisions: an ``enum`` value missing from the value table refuses (the deal parks,
the admin extends the table); a ``user`` missing from the table is :class:`Unset`
— the partner's own assignment rules pick someone, which beats parking a deal over
who works it. ``money`` never converts currencies on its own: a mismatch refuses, unless
the caller passes an ``exchange`` built from the admin's rates (:mod:`sync.plan.exchange`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bridge.mapping.compiled import Converter, ConverterKind, Side
from bridge.model import CanonicalValue, FieldValue, Money
from bridge.phones import mirrored as mirrored_phone


@dataclass(frozen=True, slots=True)
class Ok:
    value: CanonicalValue


@dataclass(frozen=True, slots=True)
class Unset:
    """Leave the target as it is (e.g. a user without a counterpart)."""

    why: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """The value cannot be carried over; park the deal with ``reason``."""

    reason: str


Result = Ok | Unset | Refused


# --- scalar helpers ----------------------------------------------------------------


def canonical_decimal(value: Decimal) -> Decimal:
    """One spelling per number: ``300.00`` → ``300``, ``1.50`` → ``1.5`` (never ``3E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return canonical_decimal(Decimal(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip().replace(" ", "").replace(",", "."))
        except InvalidOperation:
            return None
        return canonical_decimal(parsed) if parsed.is_finite() else None
    return None


def _strings(value: FieldValue, each: Callable[[str], str]) -> CanonicalValue:
    """Apply ``each`` to a string or to every string of a tuple; drop empties and repeats."""
    if isinstance(value, tuple):
        seen: list[str] = []
        for item in value:
            norm = each(str(item))
            if norm and norm not in seen:
                seen.append(norm)
        return tuple(seen) if seen else None
    norm = each(str(value))
    return norm or None


# --- normalise -----------------------------------------------------------------------


def normalize(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    """``value`` read from a side whose bare amounts are in ``currency``, made canonical."""
    if value is None or value in ("", ()):
        return None
    return _NORMALIZERS[conv.kind](conv, value, currency)


def _norm_text(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    if isinstance(value, bool | tuple):
        return value if isinstance(value, bool) else _strings(value, str.strip)
    if isinstance(value, Money):
        return str(value)
    return str(value).strip() or None


def _norm_number(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    if isinstance(value, Money):
        return canonical_decimal(value.amount)
    number = to_decimal(value)
    return number if number is not None else _norm_text(conv, value, currency)


def _norm_money(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    if isinstance(value, Money):
        return Money(canonical_decimal(value.amount), value.currency)
    number = to_decimal(value)
    if number is None:
        return _norm_text(conv, value, currency)
    return Money(number, conv.currency or currency)


def _norm_phone(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    return _strings(value, mirrored_phone)


def _norm_email(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    return _strings(value, lambda s: s.strip().lower())


def _norm_date(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo is not None else None
        # A date written into a date-time field reads back as midnight UTC: same value.
        if utc is None or utc.time() == dt.time(0):
            return value.date()
        return utc
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return _norm_date(conv, dt.datetime.fromisoformat(value.strip()), currency)
        except ValueError:
            return value.strip() or None
    return _norm_text(conv, value, currency)


def _norm_id(conv: Converter, value: FieldValue, currency: str) -> CanonicalValue:
    if isinstance(value, tuple):
        return _strings(value, str.strip)
    return str(value).strip() or None


_NORMALIZERS: Mapping[ConverterKind, Callable[[Converter, FieldValue, str], CanonicalValue]] = {
    ConverterKind.TEXT: _norm_text,
    ConverterKind.NUMBER: _norm_number,
    ConverterKind.MONEY: _norm_money,
    ConverterKind.PHONE: _norm_phone,
    ConverterKind.EMAIL: _norm_email,
    ConverterKind.DATE: _norm_date,
    ConverterKind.ENUM: _norm_id,
    ConverterKind.USER: _norm_id,
}


# --- translate -----------------------------------------------------------------------


Exchange = Callable[[Money, str], "Result"]  # money → the target currency, or Refused


def translate(
    conv: Converter,
    value: CanonicalValue,
    to: Side,
    *,
    label: str,
    currency: str,
    exchange: Exchange | None = None,
) -> Result:
    """A value normalised on the other side, in ``to``'s terms (``currency``: ``to``'s).

    ``exchange``: how a money value in another currency is converted (the admin's rates,
    :mod:`sync.plan.exchange`); without it a currency mismatch refuses."""
    if value is None:
        return Ok(None)
    if conv.kind is ConverterKind.ENUM:
        return _translate_enum(conv, value, to, label)
    if conv.kind is ConverterKind.USER:
        return _translate_user(conv, value, to, label)
    if conv.kind is ConverterKind.MONEY and isinstance(value, Money):
        return _translate_money(conv, value, to, label, currency, exchange)
    return Ok(value)


def _table(conv: Converter, to: Side) -> Mapping[str, str]:
    return conv.to_partner if to is Side.PARTNER else conv.to_agency


def _translate_enum(conv: Converter, value: CanonicalValue, to: Side, label: str) -> Result:
    table = _table(conv, to)
    ids = value if isinstance(value, tuple) else (value,)
    missing = [str(i) for i in ids if str(i) not in table]
    if missing:
        return Refused(
            f"field '{label}': option id(s) {', '.join(missing)} have no {to.value}-side"
            f" counterpart in the value table of mapping.yaml"
        )
    mapped = tuple(table[str(i)] for i in ids)
    return Ok(mapped if isinstance(value, tuple) else mapped[0])


def _translate_user(conv: Converter, value: CanonicalValue, to: Side, label: str) -> Result:
    target = _table(conv, to).get(str(value))
    if target is None:
        return Unset(f"field '{label}': user {value} has no {to.value}-side counterpart")
    return Ok(target)


def _translate_money(
    conv: Converter, value: Money, to: Side, label: str, currency: str, exchange: Exchange | None
) -> Result:
    wanted = conv.currency or currency
    if value.currency != wanted and exchange is not None:
        return exchange(value, wanted)
    if value.currency != wanted:
        return Refused(
            f"field '{label}': amount {value} is in {value.currency} but the {to.value} side"
            f" keeps {wanted}; the bridge does not convert currencies"
        )
    return Ok(value)
