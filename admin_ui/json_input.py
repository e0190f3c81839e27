"""Strict JSON input shared by the API parser, the webhook and the start page: one set of rules, one message."""

from __future__ import annotations

import json
from typing import Any

from admin_ui.errors import ServiceError

# Deep enough for any real document, shallow enough that no later recursive walk (engine, JMESPath) overflows.
MAX_DEPTH = 100


def _refuse(message: str, field: str) -> ServiceError:
    return ServiceError(message, errors={field: [message]})


def _check(value: Any, field: str) -> None:
    """Walk without recursion: refuse NUL and lone surrogates (databases and UTF-8 cannot store them) and depth."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(f"JSON is nested deeper than {MAX_DEPTH} levels.", field)
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, field)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, field)


def _check_text(text: str, field: str) -> None:
    if "\x00" in text:
        raise _refuse("JSON text must not contain NUL (\\u0000).", field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _refuse("JSON text must not contain unpaired surrogates (such as \\ud800).", field) from exc


def json_loads(raw: bytes | str, *, field: str = "body") -> Any:
    """Parse JSON input or raise ServiceError: invalid, nested too deeply, NUL or lone surrogates."""
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise _refuse(f"JSON is nested deeper than {MAX_DEPTH} levels.", field) from exc
    except ValueError as exc:  # also UnicodeDecodeError for bytes that are not UTF-8
        raise _refuse(f"The body is not valid JSON: {exc}", field) from exc
    _check(value, field)
    return value


def json_object_loads(raw: bytes | str, *, field: str = "body") -> dict[str, Any]:
    """Like `json_loads`, and the document must be an object ({...}), not an array or a scalar."""
    value = json_loads(raw, field=field)
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "null" if value is None else "a scalar"
        raise _refuse(f"The JSON body must be an object ({{...}}), not {kind}.", field)
    return value
