"""``batch``: up to 50 commands run in order, chained through ``$result[...]``.

The answer is HTTP 200 whatever the commands did; per-command errors land in
``result_error``. Empty maps are JSON ``[]``, as PHP serialises them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bridge.phpform import PhpFormError, parse
from bridge.sandbox.bitrix.core import ApiError, Result, flag

MAX_COMMANDS = 50
_REFERENCE = re.compile(r"\$(result|result_total|result_next|result_time)((?:\[[^\[\]]*\])+)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

# (method, params) → (result, time block); raises ApiError.
Runner = Callable[[str, dict[str, Any]], tuple[Result, dict[str, Any]]]


def commands(raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [(str(n), v) for n, v in enumerate(raw)]
    else:
        items = []
    if len(items) > MAX_COMMANDS:
        raise ApiError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
    return items


def run_batch(params: dict[str, Any], run: Runner) -> dict[str, Any]:
    halt = flag(params.get("halt", 0))
    state: dict[str, dict[str, Any]] = {
        "result": {},
        "result_error": {},
        "result_total": {},
        "result_next": {},
        "result_time": {},
    }
    for key, command in commands(params.get("cmd")):
        try:
            method, arguments = _parse_command(command, state)
            result, timing = run(method, arguments)
        except ApiError as error:
            state["result_error"][key] = error.body()
            if halt:
                break
            continue
        state["result"][key] = result.value
        if result.total is not None:
            state["result_total"][key] = result.total
        if result.next is not None:
            state["result_next"][key] = result.next
        state["result_time"][key] = timing
    return {name: (values if values else []) for name, values in state.items()}


def _parse_command(command: Any, state: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    if not isinstance(command, str) or not command.strip():
        raise ApiError(400, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    method, _, query = command.strip().partition("?")
    name = method.strip().lower().removesuffix(".json")
    if name == "batch":
        raise ApiError(
            405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
        )
    try:
        arguments = parse(query, php=True)  # each command is parse_str'd like a request
    except PhpFormError as error:
        raise ApiError(400, "INVALID_REQUEST", str(error)) from None
    return name, _substitute(arguments, state)


def _substitute(value: Any, state: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, state) for v in value]
    if not isinstance(value, str) or "$result" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole is not None:
        found = _lookup(whole, state)
        return value if found is _MISSING else found
    return _REFERENCE.sub(lambda m: _as_text(_lookup(m, state), m.group(0)), value)


_MISSING = object()


def _lookup(match: re.Match[str], state: dict[str, dict[str, Any]]) -> Any:
    node: Any = state[match.group(1)]
    for segment in _SEGMENT.findall(match.group(2)):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _MISSING  # an unresolved reference stays as literal text
    return node


def _as_text(found: Any, literal: str) -> str:
    if found is _MISSING or isinstance(found, dict | list):
        return literal
    if isinstance(found, bool):
        return "1" if found else ""
    return "" if found is None else str(found)
