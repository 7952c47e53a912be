"""Turn pydantic's validation errors into mapping.yaml problems an admin can act on.

Pydantic reports *where* in the model something failed (with union member tags
in the path); this module maps that back onto the YAML (line, column, key path)
and rewrites the message as "what is wrong — what would be right".
"""

from __future__ import annotations

import re
import types
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bridge.mapping.errors import KeyPath, did_you_mean, dotted
from bridge.mapping.report import Reporter

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "list_type": "a list (lines starting with '- ')",
}


def report_validation_error(exc: ValidationError, model: type[BaseModel], out: Reporter) -> None:
    """Add one problem per distinct mistake in ``exc`` to ``out``."""
    located = [(_data_path(out.loaded.data, e["loc"]), e) for e in exc.errors()]
    type_errors: dict[KeyPath, list[ErrorDetails]] = {}
    for path, error in located:
        if error["type"] in ("extra_forbidden", "missing"):
            _key_problem(path, error["type"], model, out)
        elif not _has_deeper(path, located):
            type_errors.setdefault(path, []).append(error)
    for path, errors in type_errors.items():
        out.error(path, _value_message(errors))


def _data_path(data: Any, loc: Sequence[int | str]) -> KeyPath:
    """``loc`` without pydantic's union tags: only the parts that exist in the data."""
    path: list[int | str] = []
    node = data
    for index, part in enumerate(loc):
        if _contains(node, part):
            node = node[part]
        elif not (isinstance(node, dict) and index == len(loc) - 1 and not _is_tag(part)):
            continue  # a union member's tag, not a key of the file
        path.append(part)
    return tuple(path)


def _contains(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


def _is_tag(part: int | str) -> bool:
    if not isinstance(part, str):
        return False
    return part[:1].isupper() or "[" in part or part in ("str", "int", "bool", "decimal")


def _has_deeper(path: KeyPath, located: list[tuple[KeyPath, ErrorDetails]]) -> bool:
    return any(len(other) > len(path) and other[: len(path)] == path for other, _ in located)


def _key_problem(path: KeyPath, kind: str, model: type[BaseModel], out: Reporter) -> None:
    parent, key = path[:-1], str(path[-1])
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, parent)
        out.error(path, f"unknown key '{key}' — {did_you_mean(key, allowed)}", at_key=True)
    else:
        where = f"under {dotted(parent)}" if parent else "at the top level"
        out.error(path, f"required key '{key}' is missing — add '{key}:' {where}", at_key=True)


def _value_message(errors: list[ErrorDetails]) -> str:
    first = errors[0]
    if first["type"] in ("enum", "literal_error"):
        options = re.findall(r"'([^']*)'", str(first.get("ctx", {}).get("expected", "")))
        got = first["input"]
        return f"'{got}' is not allowed — {did_you_mean(str(got), options)}"
    if first["type"] == "value_error":
        return str(first["msg"]).removeprefix("Value error, ")
    wanted = [_EXPECTED.get(e["type"], e["msg"]) for e in errors]
    return f"expected {' or '.join(dict.fromkeys(wanted))}, got {describe(first['input'])}"


def describe(value: object) -> str:
    """A few words for what the admin wrote."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    names = {type(None): "nothing (null)", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def allowed_keys(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys a mapping at ``path`` may have (empty if it is not a model)."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """From ``X | None`` or ``str | list[str] | Model`` pick the member that holds keys."""
    if get_origin(tp) not in (Union, types.UnionType):
        return tp
    members = [a for a in get_args(tp) if a is not type(None)]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    containers = [m for m in members if get_origin(m) in (dict, list)]
    return (models + containers + members + [tp])[0]
