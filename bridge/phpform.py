"""PHP-style bracket query strings: ``a[b][0]=x&a[b][1]=y`` ⇄ nested dicts.

Both CRMs speak this dialect: Bitrix24 accepts it for every method and inside
``batch`` command strings, and sends events in it; amoCRM sends webhooks in it.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

_KEY = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")

Nested = dict[str, Any]


class PhpFormError(ValueError):
    """The string is not a well-formed bracket query."""


def split_key(key: str) -> list[str]:
    """``'fields[PHONE][0][VALUE]'`` → ``['fields', 'PHONE', '0', 'VALUE']``."""
    match = _KEY.match(key)
    if match is None or not match.group(1):
        raise PhpFormError(f"malformed key {key!r}")
    return [match.group(1), *_PART.findall(match.group(2))]


def _insert(root: Nested, parts: list[str], value: str) -> None:
    node = root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key = str(len(node)) if part == "" else part
        if last:
            node[key] = value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise PhpFormError(f"key {'/'.join(parts)!r} is both a value and a container")
        node = child


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


def parse(query: str, *, lists: bool = True) -> Nested:
    """Parse a bracket query string into nested dicts (and lists, if ``lists``)."""
    root: Nested = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        _insert(root, split_key(key), value)
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
