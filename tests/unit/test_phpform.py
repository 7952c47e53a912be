import pytest

from bridge import phpform


def test_parse_nested_brackets_and_lists() -> None:
    query = (
        "event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=42"
        "&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B7%20999&fields%5BPHONE%5D%5B1%5D%5BVALUE%5D=8800"
    )
    parsed = phpform.parse(query)
    assert parsed["event"] == "ONCRMDEALUPDATE"
    assert parsed["data"] == {"FIELDS": {"ID": "42"}}
    assert parsed["fields"]["PHONE"] == [{"VALUE": "+7 999"}, {"VALUE": "8800"}]


def test_empty_brackets_append() -> None:
    assert phpform.parse("ids[]=1&ids[]=2") == {"ids": ["1", "2"]}


def test_round_trip_with_cyrillic() -> None:
    params = {"fields": {"TITLE": "Сделка & Ко", "LIST": ["а", "б"]}, "filter": {">ID": "5"}}
    assert phpform.parse(phpform.build(params)) == params


def test_bools_are_refused_not_sent_as_true() -> None:
    with pytest.raises(phpform.PhpFormError, match="bool"):
        phpform.build({"flag": True})


def test_malformed_key_is_reported() -> None:
    with pytest.raises(phpform.PhpFormError, match="malformed"):
        phpform.parse("%5Bx%5D=1")


def test_value_and_container_clash_is_reported() -> None:
    with pytest.raises(phpform.PhpFormError, match="both"):
        phpform.parse("a=1&a[b]=2")
