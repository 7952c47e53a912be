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


def test_deep_keys_are_refused_fast_with_the_reason() -> None:
    deep = "leads" + "[x]" * 900 + "=1"  # once a RecursionError
    with pytest.raises(phpform.PhpFormLimit, match="deeper than 32"):
        phpform.parse(deep)
    with pytest.raises(phpform.PhpFormLimit, match="deeper than 32"):
        phpform.parse(deep, php=True)
    assert phpform.parse("a" + "[x]" * 32 + "=1")  # the limit itself is fine


def test_too_many_keys_are_refused() -> None:
    with pytest.raises(phpform.PhpFormLimit, match="more than 1000 keys"):
        phpform.parse("&".join(f"k{i}=1" for i in range(1001)))
    assert len(phpform.parse("&".join(f"k{i}=1" for i in range(1000)))) == 1000


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # An unencoded '=' ends the key, as in PHP: the rest is the value.
        ("filter[>=DATE_MODIFY]=2026-01-01", {"filter_>": "DATE_MODIFY]=2026-01-01"}),
        ("a.b=1&c d=2& e=3", {"a_b": "1", "c_d": "2", "e": "3"}),
        ("a[b.c]=1", {"a": {"b.c": "1"}}),  # dots inside brackets stay
        ("a[b[c]=1", {"a": {"b[c": "1"}}),  # an index runs to the first ']'
        ("a[b]x=1", {"a": {"b": "1"}}),  # text after ']' is dropped
        ("a[b][c=1", {"a": {"b": "1"}}),  # an unclosed deeper index ends the path
        ("[x]=1&=2&ok=3", {"ok": "3"}),  # no name: ignored
        ("a=1&a[b]=2", {"a": {"b": "2"}}),  # the later key wins, no error
        ("a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}),
        ("a[ ]=x&a[ b]=y", {"a": {"0": "x", " b": "y"}}),
        ("filter%5B%3E%3DDATE_MODIFY%5D=2026-01-01", {"filter": {">=DATE_MODIFY": "2026-01-01"}}),
    ],
)
def test_php_mode_reads_keys_as_parse_str_does(query: str, expected: dict[str, object]) -> None:
    assert phpform.parse(query, php=True) == expected
