from __future__ import annotations

from decimal import Decimal

from bridge.mapping.yaml_loader import load_yaml


def test_values_keep_their_line_and_column() -> None:
    loaded = load_yaml("a:\n  b: [1, 2.50]\n  c: 'текст'\n", "f.yaml")
    assert loaded.problems == []
    assert loaded.data == {"a": {"b": [1, Decimal("2.50")], "c": "текст"}}
    assert loaded.marks[("a", "b", 1)] == (2, 10)
    assert loaded.key_marks[("a", "c")] == (3, 3)


def test_quoted_traps_are_text_and_not_reported() -> None:
    loaded = load_yaml('a: "no"\nb: "08"\nc: "03:00"\nd: true\ne: ~\n', "f.yaml")
    assert loaded.problems == []
    assert loaded.data == {"a": "no", "b": "08", "c": "03:00", "d": True, "e": None}


def test_every_trap_is_reported_once_with_its_position() -> None:
    loaded = load_yaml("a: yes\nb: 0755\nc: 1_000\nd: 0x1F\ne: Off\n", "f.yaml")
    found = [(p.line, p.col, p.path) for p in loaded.problems]
    assert found == [(1, 4, "a"), (2, 4, "b"), (3, 4, "c"), (4, 4, "d"), (5, 4, "e")]
    assert "write 31" in loaded.problems[3].message


def test_duplicate_key_names_the_first_line() -> None:
    loaded = load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [str(p) for p in loaded.problems] == [
        "f.yaml:3:1 a: duplicate key — already set on line 1; keep only one"
    ]
    assert loaded.data == {"a": 1, "b": 2}


def test_merge_keys_are_refused() -> None:
    loaded = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n", "f.yaml")
    assert [p.path for p in loaded.problems] == ["other.<<"]


def test_empty_file_says_how_to_start() -> None:
    loaded = load_yaml("# only a comment\n", "f.yaml")
    assert "start with 'version: 1'" in loaded.problems[0].message
