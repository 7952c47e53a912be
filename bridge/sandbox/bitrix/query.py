"""List semantics: filter operators, ordering, 50-row pages. Pure, no I/O.

Records are dicts of typed values (ints, Decimals, datetimes, bools, strings,
lists for multiple fields). Comparisons are type-correct: ``ID`` compares as a
number, ``DATE_MODIFY`` as a datetime, whatever text the client sent.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bridge.sandbox.bitrix.core import (
    PAGE_SIZE,
    ApiError,
    flag,
    legacy_error,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
)

# Longest prefixes first, so ``>=`` is not read as ``>``.
_OPERATORS = ("!=%", "!%=", "!@", "!%", "!=", ">=", "<=", "=%", "%=", "@", ">", "<", "=", "%", "!")
_NEGATED = frozenset({"!=%", "!%=", "!@", "!%", "!=", "!"})

Record = dict[str, Any]
# Maps a client's field name to the store key and its comparison kind, or None if unknown.
Resolver = Callable[[str], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter term with its value typed once, not once per row."""

    key: str
    test: Callable[[Any], bool]
    negated: bool
    empty_hit: bool  # what "=" / "@" means for an empty multiple field

    def matches(self, record: Record) -> bool:
        actual = record.get(self.key)
        if isinstance(actual, list):
            hit = any(self.test(one) for one in actual) if actual else self.empty_hit
        else:
            hit = self.test(actual)
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class Group:
    conditions: tuple[Condition | Group, ...]
    any_of: bool

    def matches(self, record: Record) -> bool:
        results = (c.matches(record) for c in self.conditions)
        return any(results) if self.any_of else all(results)


def split_operator(key: str) -> tuple[str, str]:
    for op in _OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "", key


def parse_filter(raw: Any, resolve: Resolver, *, strict: bool) -> Group:
    """A filter dict → condition tree. ``strict`` (crm.item.list) rejects unknown fields."""
    if raw in (None, "", []):
        return Group((), any_of=False)
    if not isinstance(raw, dict):
        if strict:
            raise ApiError(400, "INVALID_ARG_VALUE", "Invalid filter")
        raise legacy_error("Parameter 'filter' must be array.")
    return _group(raw, resolve, strict=strict)


def _group(raw: dict[str, Any], resolve: Resolver, *, strict: bool) -> Group:
    items: list[Condition | Group] = []
    any_of = str(raw.get("logic", raw.get("LOGIC", "AND"))).upper() == "OR"
    for key, value in raw.items():
        if key.lower() == "logic":
            continue
        if isinstance(value, dict) and (key.isdigit() or "logic" in {k.lower() for k in value}):
            items.append(_group(value, resolve, strict=strict))
            continue
        op, name = split_operator(key)
        resolved = resolve(name)
        if resolved is None:
            if strict:
                raise ApiError(
                    400,
                    "INVALID_ARG_VALUE",
                    f"Invalid filter: field '{name}' is not allowed in filter",
                )
            continue
        items.append(condition(resolved[0], resolved[1], op, value))
    return Group(tuple(items), any_of=any_of)


def _typed(kind: str, value: Any) -> Any:
    if value is None or value is False or value == "":
        return None
    converters: dict[str, Callable[[Any], Any]] = {
        "int": parse_int,
        "decimal": parse_decimal,
        "datetime": parse_datetime,
        "date": parse_date,
        "bool": flag,
    }
    convert = converters.get(kind)
    return convert(value) if convert else str(value)


def condition(key: str, kind: str, op: str, value: Any) -> Condition:
    base = op.lstrip("!") or "="
    negated = op in _NEGATED
    if base in {"%", "=%", "%="}:
        return Condition(key, _like_test(base, value), negated, empty_hit=False)
    if base == "@" or (base == "=" and isinstance(value, list)):
        raw = value if isinstance(value, list) else str(value).split(",")
        targets = [_normal(kind, _typed(kind, v)) for v in raw]
        return Condition(key, _any_equal(kind, targets), negated, empty_hit=None in targets)
    if base == "=":
        target = _normal(kind, _typed(kind, value))
        return Condition(key, _any_equal(kind, [target]), negated, empty_hit=target is None)
    return Condition(key, _ordered_test(base, _typed(kind, _first(value))), negated, False)


def _normal(kind: str, value: Any) -> Any:
    if value is None:
        return None
    return str(value).casefold() if kind == "str" else _comparable(value)


def _any_equal(kind: str, targets: list[Any]) -> Callable[[Any], bool]:
    def test(actual: Any) -> bool:
        if actual is None or actual == "":
            return None in targets
        return _normal(kind, actual) in targets

    return test


def _ordered_test(op: str, target: Any) -> Callable[[Any], bool]:
    bound = None if target is None else _comparable(target)

    def test(actual: Any) -> bool:
        if actual is None or bound is None:
            return False
        return _ordered(op, _comparable(actual), bound)

    return test


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _comparable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal | int):
        return Decimal(value)
    return value


def _ordered(op: str, left: Any, right: Any) -> bool:
    try:
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
        if op == "<":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _like_test(op: str, wanted: Any) -> Callable[[Any], bool]:
    pattern = str(_first(wanted)).casefold()
    if op == "%":
        needle = pattern.replace("%", "")
        return lambda actual: actual is not None and needle in str(actual).casefold()
    regex = re.compile(
        "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$", re.DOTALL
    )
    return lambda actual: actual is not None and regex.match(str(actual).casefold()) is not None


def parse_order(raw: Any, resolve: Resolver, *, strict: bool) -> list[tuple[str, bool]]:
    """``{"ID": "DESC"}`` → ``[("ID", True)]``; unknown fields ignored unless strict."""
    if not isinstance(raw, dict):
        return []
    keys: list[tuple[str, bool]] = []
    for name, direction in raw.items():
        resolved = resolve(name)
        if resolved is None:
            if strict:
                raise ApiError(
                    400, "INVALID_ARG_VALUE", f"Invalid order: field '{name}' is not allowed"
                )
            continue
        keys.append((resolved[0], str(direction).upper() == "DESC"))
    return keys


def sort_records(records: Iterable[Record], order: Sequence[tuple[str, bool]]) -> list[Record]:
    rows = list(records)
    # Stable sorts applied last key first; ID breaks ties so pages never overlap.
    keys = [*order, ("ID", False)] if ("ID", False) not in order else list(order)
    for key, descending in reversed(keys):
        rows.sort(key=_keyed(key), reverse=descending)
    return rows


def _keyed(key: str) -> Callable[[Record], tuple[int, Any]]:
    def sort_key(record: Record) -> tuple[int, Any]:
        return _sort_key(record.get(key))

    return sort_key


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return (0, 0)
    comparable = _comparable(value)
    return (1, comparable.casefold() if isinstance(comparable, str) else comparable)


def list_page(
    rows: Mapping[int, Record],
    raw_filter: Any,
    condition: Group,
    order: Sequence[tuple[str, bool]],
    start_raw: Any,
    view: Callable[[Record], Record] | None = None,
) -> tuple[list[Record], int | None, int | None]:
    """One page of ``rows`` (keyed and inserted by ascending ID) without scanning them all
    when the filter bounds the ID (``>ID``, ``@ID``...) or the keyset pattern
    (``order ID ASC, start=-1``) lets the scan stop after 50 matches."""
    candidates: Iterable[Record] = _candidates(rows, raw_filter)
    if view is not None:
        candidates = map(view, candidates)
    by_id = list(order) in ([], [("ID", False)])
    if by_id and parse_int(start_raw) == -1:
        chunk: list[Record] = []
        for record in candidates:
            if condition.matches(record):
                chunk.append(record)
                if len(chunk) == PAGE_SIZE:
                    break
        return chunk, 0, None
    matched = [r for r in candidates if condition.matches(r)]
    return page(matched if by_id else sort_records(matched, order), start_raw)


def _candidates(rows: Mapping[int, Record], raw_filter: Any) -> Iterable[Record]:
    """Rows that can match, in ID order; narrowing only on top-level AND terms."""
    if not isinstance(raw_filter, dict):
        return rows.values()
    terms = {str(k).lower(): v for k, v in raw_filter.items()}
    if str(terms.get("logic", "AND")).upper() == "OR":
        return rows.values()
    wanted = terms.get("@id", terms.get("=id", terms.get("id")))
    if wanted is not None:
        ids = wanted if isinstance(wanted, list) else [wanted]
        found = sorted({i for i in (parse_int(v) for v in ids) if i is not None})
        return [rows[i] for i in found if i in rows]
    after = parse_int(terms.get(">id"))
    at_least = parse_int(terms.get(">=id"))
    keys = list(rows)
    if after is not None:
        cut = bisect.bisect_right(keys, after)
    elif at_least is not None:
        cut = bisect.bisect_left(keys, at_least)
    else:
        return rows.values()
    return (rows[k] for k in keys[cut:])


def page(rows: Sequence[Record], start_raw: Any) -> tuple[list[Record], int | None, int | None]:
    """One 50-row page → (rows, total, next). ``start=-1`` skips the count: total 0, no next."""
    start = parse_int(start_raw) or 0
    if start == -1:
        return list(rows[:PAGE_SIZE]), 0, None
    start = max(start, 0)
    chunk = list(rows[start : start + PAGE_SIZE])
    following = start + PAGE_SIZE
    return chunk, len(rows), following if following < len(rows) else None
