from __future__ import annotations

from decimal import Decimal

from bridge.mapping.yaml_loader import MAX_ALIAS_VALUES, load_yaml
from bridge.sandbox.world_mapping import mapping_yaml, partner_kinds


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


def test_a_long_mapping_of_plain_values_loads() -> None:
    """Hundreds of partners written out are many values but no expansion: not refused."""
    text = mapping_yaml(partner_kinds(300, amo=180))
    loaded = load_yaml(text, "mapping.yaml")
    assert loaded.problems == []
    assert len(loaded.data["partners"]) == 300
    assert len(loaded.marks) + len(loaded.key_marks) > MAX_ALIAS_VALUES  # once refused for it


def test_an_alias_bomb_after_a_long_mapping_is_refused_at_its_line() -> None:
    """The limit counts what aliases copy: a bomb is refused, in one line naming the alias."""
    plain = "".join(f"p{i}: [{i}, {i}, {i}]\n" for i in range(3_000))
    bomb = ["lol1: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(2, 10):
        prev, name = chr(ord("a") + level - 2), chr(ord("a") + level - 1)
        bomb.append(f"lol{level}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    loaded = load_yaml(plain + "\n".join(bomb) + "\n", "mapping.yaml")
    (problem,) = loaded.problems
    assert (problem.line, problem.path) == (3_000 + 5, "(aliases)")  # lol5's first alias passes it
    assert str(problem).startswith("mapping.yaml:3005:")
    assert "\n" not in str(problem)
    assert f"more than {MAX_ALIAS_VALUES} values" in problem.message
    assert loaded.data is None


def test_aliases_copying_up_to_the_limit_are_fine() -> None:
    """A block reused by many partners copies it each time; under the limit that is allowed."""
    block = "common: &c [" + ", ".join(str(i) for i in range(9)) + "]\n"  # 10 values
    uses = "".join(f"u{i}: *c\n" for i in range(MAX_ALIAS_VALUES // 10))  # 10 values each
    loaded = load_yaml(block + uses, "f.yaml")
    assert loaded.problems == []
    assert loaded.data["u0"] == loaded.data["common"]
    over = load_yaml(block + uses + "one_more: *c\n", "f.yaml")
    assert [p.path for p in over.problems] == ["(aliases)"]
