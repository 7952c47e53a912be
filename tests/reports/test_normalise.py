from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.channels import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 (912) 345-67-89", "+79123456789"),
        ("8 912 345 67 89", "+79123456789"),
        ("9123456789", "+79123456789"),
        ("+7 912 3456789 доб. 12", "+79123456789"),
        ("8 (495) 123-45-67 ext. 3", "+74951234567"),
        ("7 912 345-67-89", "+79123456789"),
        ("8 10 49 30 1234567", "+49301234567"),  # the old Russian international prefix
        ("+49 30 1234567", "+49301234567"),
        ("+7 912 345 67", None),  # a Russian number is 10 digits after +7
        ("345-67-89", None),
        ("", None),
        ("нет телефона", None),
    ],
)
def test_phone(raw: str, expected: str | None) -> None:
    assert normalise.phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ivan.Petrov@Example.RU ", "ivan.petrov@example.ru"),
        ("mailto:sales@romashka.ru", "sales@romashka.ru"),
        ("иван@ромашка.рф", "иван@xn--80aa3agjl3d.xn--p1ai"),
        ("no-at-sign.ru", None),
        ("a@b", None),
        ("two@@signs.ru", None),
    ],
)
def test_email(raw: str, expected: str | None) -> None:
    assert normalise.email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7707083893", "7707083893"),  # Sberbank, 10 digits
        ("7707 083 893", "7707083893"),
        ("7736207543", "7736207543"),  # Yandex
        ("500100732259", "500100732259"),  # a valid 12-digit (individual) ИНН
        ("7707083894", None),  # check digit off by one
        ("500100732258", None),  # second check digit wrong
        ("500100732269", None),  # first check digit wrong
        ("770708389", None),  # 9 digits
        ("77070838931", None),  # 11 digits
        ("77O7083893", None),  # a letter O
    ],
)
def test_inn(raw: str, expected: str | None) -> None:
    assert normalise.inn(raw) == expected


def test_inn_check_digits_are_computed_not_listed() -> None:
    # Every single-digit change of the last digit of a valid ИНН is rejected.
    valid = "7707083893"
    others = [valid[:-1] + d for d in "0123456789" if d != valid[-1]]
    assert [normalise.inn(x) for x in others] == [None] * 9


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.ромашка.рф/contacts", "xn--80aa3agjl3d.xn--p1ai"),
        ("ромашка.рф", "xn--80aa3agjl3d.xn--p1ai"),
        ("HTTP://Example.COM:8080/path?q=1#top", "example.com"),
        ("www.romashka.ru/", "romashka.ru"),
        ("shop.romashka.ru", "shop.romashka.ru"),
        ("http://user@romashka.ru", "romashka.ru"),
        ("romashka.ru.", "romashka.ru"),
        ("localhost", None),
        ("", None),
    ],
)
def test_domain(raw: str, expected: str | None) -> None:
    assert normalise.domain(raw) == expected


@given(st.text(alphabet="0123456789 +()-.доб", max_size=24))
def test_phone_output_is_a_fixed_point(raw: str) -> None:
    result = normalise.phone(raw)
    if result is not None:
        assert normalise.phone(result) == result
        assert result.startswith("+") and result[1:].isdigit()


@given(st.from_regex(r"\A[0-9]{9}\Z"))
def test_exactly_one_check_digit_completes_a_ten_digit_inn(prefix: str) -> None:
    valid = [d for d in "0123456789" if normalise.inn(prefix + d)]
    assert len(valid) == 1
