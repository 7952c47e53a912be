"""Read YAML into plain values, keeping the line and column of every key and value.

PyYAML implements YAML 1.1, where ``no`` is false, ``08`` is an error or a string
depending on the parser, ``1_000`` is a thousand and a repeated key silently wins.
Those are the mistakes admins make without noticing, so this loader composes the
node graph itself and resolves plain scalars with a deliberately small rule set:
``true``/``false``, ``null``/``~``/empty, decimal integers and decimals. Everything
that YAML 1.1 and 1.2 read differently is reported as a problem with advice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from bridge.mapping.errors import KeyPath, MappingProblem, dotted

Mark = tuple[int, int]

_NULL = re.compile(r"^(|~|null|Null|NULL)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOL_11 = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|FALSE)$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_DECIMAL = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)$")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
_UNDERSCORE_NUMBER = re.compile(r"^[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?$")
_RADIX = re.compile(r"^[-+]?0[xXoObB][0-9a-fA-F_]+$")


@dataclass
class LoadedYaml:
    """Plain data plus where each value (``marks``) and each key (``key_marks``) sits."""

    data: Any
    marks: dict[KeyPath, Mark] = field(default_factory=dict)
    key_marks: dict[KeyPath, Mark] = field(default_factory=dict)
    problems: list[MappingProblem] = field(default_factory=list)

    def mark_of(self, path: KeyPath, *, key: bool = False) -> Mark:
        """The closest known position for ``path`` (walking up to a parent if needed)."""
        table = self.key_marks if key else self.marks
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.key_marks.get(path[:end])
            if found:
                return found
        return (1, 1)


def load_yaml(text: str, file: str) -> LoadedYaml:
    """Parse ``text``; YAML-level mistakes land in ``.problems`` (data may be partial)."""
    result = LoadedYaml(data=None)
    tabs = _tab_problems(text, file)
    if tabs:
        result.problems.extend(tabs)
        return result
    bomb = _expansion_problem(text, file)
    if bomb is not None:
        result.problems.append(bomb)
        return result
    try:
        root = yaml.compose(text, Loader=FAST_LOADER)
    except yaml.YAMLError:
        try:  # the pure-Python parser words the problem as our messages always did
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            result.problems.append(_syntax_problem(exc, file))
            return result
    if root is None:
        result.problems.append(MappingProblem(file, 1, 1, "(top level)", _EMPTY))
        return result
    builder = _Builder(file, result)
    result.data = builder.convert(root, ())
    return result


# libyaml when PyYAML was built with it: a 200-partner mapping parses in a fraction of the
# time (every command and start loads the file); the pure-Python loader words the errors.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Values that aliases may copy in all. Plain values written out are not counted: a long
# mapping (hundreds of partners, thousands of values) is just long, while a "billion
# laughs" file is short and multiplies itself through aliases of aliases.
MAX_ALIAS_VALUES = 10_000


def _expansion_problem(text: str, file: str) -> MappingProblem | None:
    """A problem at the alias where aliases have copied more than :data:`MAX_ALIAS_VALUES`.

    Reads the event stream once, keeping each anchor's expanded size (its own values
    plus what the aliases inside it copy), so a "billion laughs" file is refused in
    linear time instead of being expanded. Only the copies count toward the limit.
    """
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, expanded size so far] per open collection
    copied = 0
    try:
        for event in yaml.parse(text, Loader=FAST_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
            elif isinstance(event, yaml.AliasEvent):
                anchor, size = None, sizes.get(str(event.anchor), 1)
                copied += size
            elif isinstance(event, yaml.ScalarEvent):
                anchor, size = event.anchor, 1
            else:
                continue
            if anchor is not None:
                sizes[str(anchor)] = size
            if stack:
                stack[-1][1] += size
            if copied > MAX_ALIAS_VALUES:
                mark = event.start_mark
                line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                return MappingProblem(
                    file,
                    line,
                    col,
                    "(aliases)",
                    f"anchors and aliases expand to more than {MAX_ALIAS_VALUES} values here — "
                    "a mapping never needs that many; write the values out or remove the aliases",
                )
    except yaml.YAMLError:
        return None  # compose reports the syntax problem with its line
    return None


_EMPTY = "the file is empty — start with 'version: 1', then 'agency:' and 'partners:'"


def _tab_problems(text: str, file: str) -> list[MappingProblem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            col = indent.index("\t") + 1
            advice = "tab in indentation — YAML indents with spaces only; replace tabs by spaces"
            problems.append(MappingProblem(file, number, col, "(indentation)", advice))
    return problems


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> MappingProblem:
    at_end = "end of stream" in str(exc.problem)
    mark = (exc.context_mark if at_end else None) or exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
    advice = "YAML syntax error: " + what + " — check indentation, colons and quotes here"
    return MappingProblem(file, line, col, "(syntax)", advice)


class _Builder:
    def __init__(self, file: str, out: LoadedYaml) -> None:
        self.file = file
        self.out = out

    def problem(self, path: KeyPath, mark: Mark, message: str) -> None:
        self.out.problems.append(MappingProblem(self.file, *mark, dotted(path), message))

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.out.marks[path] = mark
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.style:  # quoted or block scalar: always text (plain: None, or "" from libyaml)
            return str(node.value)
        return self._plain(str(node.value), path, mark)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(path, key_mark, "a key must be plain text, not a list or a mapping")
                continue
            key = str(key_node.value)
            if key == "<<":
                advice = "merge keys (<<) are not supported — use 'defaults:' or repeat the keys"
                self.problem((*path, key), key_mark, advice)
                continue
            if key in result:
                first = self.out.key_marks[(*path, key)]
                advice = f"duplicate key — already set on line {first[0]}; keep only one"
                self.problem((*path, key), key_mark, advice)
                continue
            self.out.key_marks[(*path, key)] = key_mark
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _plain(self, text: str, path: KeyPath, mark: Mark) -> Any:
        if _NULL.match(text):
            return None
        if text in _BOOL:
            return _BOOL[text]
        trap = _trap_advice(text)
        if trap:
            self.problem(path, mark, trap)
            return text
        if _INT.match(text):
            return int(text)
        if _DECIMAL.match(text):
            return Decimal(text)
        return text


def _trap_advice(text: str) -> str | None:
    if _BOOL_11.match(text):
        return (
            f"'{text}' is a boolean in YAML 1.1 but text in YAML 1.2 — write true or false, "
            f'or "{text}" in quotes for the text'
        )
    if _LEADING_ZERO.match(text):
        return (
            f"'{text}' has a leading zero (octal in YAML 1.1) — write {int(text)} "
            f'for the number, or "{text}" in quotes for the text'
        )
    if _UNDERSCORE_NUMBER.match(text) or _RADIX.match(text):
        plain = int(text.replace("_", ""), 0) if _RADIX.match(text) else text.replace("_", "")
        return (
            f"'{text}' is read differently by YAML versions — write {plain}, "
            f'or "{text}" in quotes for the text'
        )
    return None
