"""One reading of phone numbers for mirroring and screening (bridge.phones)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bridge import phones
from bridge.channels import normalise
from bridge.mapping.compiled import Converter, ConverterKind
from sync.plan.convert import normalize

# raw as typed, the mirrored value, the screening key (None: never a match)
CASES = [
    # the two the old normalisers disagreed on
    ("8 912 345-67-89 доб. 12", "+79123456789 ext. 12", "+79123456789"),
    ("+7 912 345", "+7 912 345", None),
    # Russian numbers: trunk prefix 8, country code 7 with or without +, ten digits
    ("8 (916) 123-45-67", "+79161234567", "+79161234567"),
    ("89161234567", "+79161234567", "+79161234567"),
    ("7 916 123 45 67", "+79161234567", "+79161234567"),
    ("+7 (916) 123-45-67", "+79161234567", "+79161234567"),
    ("9161234567", "+79161234567", "+79161234567"),
    ("  +79161234567  ", "+79161234567", "+79161234567"),
    ("8 (495) 123-45-67 ext. 3", "+74951234567 ext. 3", "+74951234567"),
    ("+7 912 3456789 доб 1234", "+79123456789 ext. 1234", "+79123456789"),
    ("8 800 555-35-35", "+78005553535", "+78005553535"),
    # Kazakhstan shares +7: its 7xx ranges are valid numbers of their own
    ("+7 701 123 45 67", "+77011234567", "+77011234567"),
    ("8 701 123 45 67", "+77011234567", "+77011234567"),
    # other countries keep their code; 8 10 is the old Russian international prefix
    ("+375 29 123-45-67", "+375291234567", "+375291234567"),
    ("8 10 375 29 123 45 67", "+375291234567", "+375291234567"),
    ("+49 30 1234567", "+49301234567", "+49301234567"),
    ("8 10 49 30 1234567", "+49301234567", "+49301234567"),
    # invalid: kept as typed when mirrored, never a screening key
    ("+7 912 345 67", "+7 912 345 67", None),
    ("345-67-89", "345-67-89", None),
    ("+7 000 000 00 00", "+7 000 000 00 00", None),
    ("7701234567", "7701234567", None),  # an ИНН in a phone field: +7 770 is not assigned
    ("нет телефона", "нет телефона", None),
    ("доб. 12", "доб. 12", None),
    ("", "", None),
    ("   ", "", None),
]


@pytest.mark.parametrize(("raw", "mirrored", "key"), CASES)
def test_mirrored_value_and_screening_key(raw: str, mirrored: str, key: str | None) -> None:
    assert phones.mirrored(raw) == mirrored
    assert phones.e164(raw) == key


@pytest.mark.parametrize(("raw", "mirrored", "key"), CASES)
def test_mirroring_and_screening_use_the_same_reading(
    raw: str, mirrored: str, key: str | None
) -> None:
    conv = Converter(ConverterKind.PHONE)
    assert normalize(conv, raw, "RUB") == (mirrored or None)
    assert normalise.phone(raw) == key
    assert normalise.phone(mirrored) == key  # the mirrored value screens like the original


def test_parse_keeps_the_extension_apart() -> None:
    assert phones.parse("8 912 345-67-89 доб. 12") == phones.Phone("+79123456789", "12")
    assert phones.parse("+79123456789") == phones.Phone("+79123456789")
    assert phones.parse("+7 912 345") is None


def test_region_reads_numbers_without_a_country_code() -> None:
    assert phones.e164("029 123-45-67", "BY") == "+375291234567"
    assert phones.e164("029 123-45-67") is None  # not a Russian number


@given(st.text(alphabet="0123456789 +()-.#добext", max_size=30))
@example("8 912 345-67-89 доб. 12")
def test_mirroring_is_stable_and_screens_like_the_original(raw: str) -> None:
    once = phones.mirrored(raw)
    assert phones.mirrored(once) == once
    assert phones.e164(once) == phones.e164(raw)
    key = phones.e164(raw)
    if key is not None:
        assert key.startswith("+") and key[1:].isdigit()
        assert once.startswith(key)
