"""PHP-style bracket query strings: ``a[b][0]=x&a[b][1]=y`` ⇄ nested dicts.

Both CRMs speak this dialect: Bitrix24 accepts it for every method and inside
``batch`` command strings, and sends events in it; amoCRM sends webhooks in it.
Pure functions, no I/O.

Untrusted input is bounded: more than :data:`MAX_KEYS` pairs or a key nested
deeper than :data:`MAX_DEPTH` raises :class:`PhpFormLimit` (a
:class:`PhpFormError`) before any work proportional to it — both webhook routes
answer 400 with that reason.

``parse(..., php=True)`` reads keys the way PHP's ``parse_str`` does (what a
real Bitrix24 portal sees): spaces and dots in the name become ``_``, an
unclosed ``[`` becomes ``_``, text after a closing ``]`` is dropped, a key with
no name is ignored. The sandboxes use it; the webhook receivers stay strict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

_KEY = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")

Nested = dict[str, Any]

MAX_KEYS = 1000  # PHP's max_input_vars default; a real event has a few dozen
MAX_DEPTH = 32  # brackets per key; real events nest 7 deep, PHP stops at 64


class PhpFormError(ValueError):
    """The string is not a well-formed bracket query."""


class PhpFormLimit(PhpFormError):
    """The query is beyond the parser's limits (too many keys, nested too deep)."""


def split_key(key: str) -> list[str]:
    """``'fields[PHONE][0][VALUE]'`` → ``['fields', 'PHONE', '0', 'VALUE']``."""
    if key.count("[") > MAX_DEPTH:
        raise PhpFormLimit(f"a key nests deeper than {MAX_DEPTH} levels")
    match = _KEY.match(key)
    if match is None or not match.group(1):
        raise PhpFormError(f"malformed key {key[:60]!r}")
    return [match.group(1), *_PART.findall(match.group(2))]


def php_split_key(key: str) -> list[str] | None:
    """The path PHP's ``parse_str`` makes of ``key``; None when PHP ignores the pair.

    Follows PHP 8's ``php_register_variable_ex``: leading spaces go, `` `` and ``.``
    in the name become ``_``; ``[`` opens an index that runs to the next ``]`` (it
    may contain ``[``; ``[ ]`` appends like ``[]``); an index without ``]`` turns
    the name's ``[`` into ``_`` (at the first level, and `` ``/``.``/``[`` after
    it too) or ends the path (deeper); text after ``]`` that is not ``[`` is dropped.
    """
    key = key.lstrip(" ")
    bracket = key.find("[")
    name = key if bracket < 0 else key[:bracket]
    name = name.replace(" ", "_").replace(".", "_")
    if not name:
        return None
    if bracket < 0:
        return [name]
    parts = [name]
    at = bracket
    while True:
        if len(parts) > MAX_DEPTH:
            raise PhpFormLimit(f"a key nests deeper than {MAX_DEPTH} levels")
        start = at + 1
        probe = start + 1 if key[start : start + 1].isspace() else start
        close = probe if key[probe : probe + 1] == "]" else key.find("]", probe)
        if close < 0:
            if len(parts) == 1:  # "filter[>" → the plain name "filter_>"
                rest = key[at + 1 :].replace(" ", "_").replace(".", "_").replace("[", "_")
                return [f"{name}_{rest}"]
            return parts
        parts.append("" if close == probe else key[start:close])  # "[ ]" appends, like "[]"
        if close + 1 >= len(key) or key[close + 1] != "[":
            return parts
        at = close + 1


def _insert(root: Nested, parts: list[str], value: str, *, overwrite: bool = False) -> None:
    """Put ``value`` at ``parts``; ``overwrite``: a later key replaces a clash, as PHP does."""
    node = root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key = str(_next_index(node)) if part == "" else part
        if last:
            node[key] = value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            if not overwrite:
                raise PhpFormError(f"key {'/'.join(parts)[:60]!r} is both a value and a container")
            child = node[key] = {}
        node = child


def _next_index(node: Nested) -> int:
    """``a[]=`` appends after the largest integer key, like PHP (0 when there is none)."""
    numbers = [int(k) for k in node if k.isdigit()]
    return max(numbers) + 1 if numbers else 0


def _listify(node: Any) -> Any:
    """Turn dicts whose keys are exactly 0..n-1 into lists, recursively."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        indexes = sorted(int(k) for k in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted


def _pairs(query: str) -> list[tuple[str, str]]:
    if query.count("&") >= MAX_KEYS:
        raise PhpFormLimit(f"more than {MAX_KEYS} keys")
    return parse_qsl(query, keep_blank_values=True, strict_parsing=False)


def parse(query: str, *, lists: bool = True, php: bool = False) -> Nested:
    """Parse a bracket query string into nested dicts (and lists, if ``lists``).

    ``php``: read keys as PHP does (:func:`php_split_key`) instead of refusing odd ones.
    """
    root: Nested = {}
    for key, value in _pairs(query):
        if not php:
            _insert(root, split_key(key), value)
            continue
        parts = php_split_key(key)
        if parts is not None:
            _insert(root, parts, value, overwrite=True)
    if not lists:
        return root
    result = {k: _listify(v) for k, v in root.items()}
    return result


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}[{k}]" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    elif isinstance(value, bool):
        # PHP has no booleans on the wire; Bitrix24 expects Y/N for flags.
        raise PhpFormError(f"refusing to encode a Python bool at {prefix!r}; send 'Y'/'N' or 1/0")
    else:
        out.append((prefix, "" if value is None else str(value)))


def build(params: Mapping[str, Any]) -> str:
    """Encode nested params as a bracket query string (keys and values URL-encoded)."""
    pairs: list[tuple[str, str]] = []
    _flatten("", params, pairs)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)
