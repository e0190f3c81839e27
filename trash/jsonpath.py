"""Dotted JSON paths for bulk patches: `customer.email`, `items[0].sku`, `$.a.b` (a leading `$.` is optional)."""

from __future__ import annotations

import copy
import re
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]")


def parse(path: str) -> list[str | int]:
    """Split a path into keys (str) and list indexes (int); raises ValueError on anything else."""
    text = path.strip()
    if text in ("", "$"):
        raise ValueError("the path is empty")
    if text.startswith("$."):
        text = text[2:]
    elif text.startswith("$["):
        text = text[1:]
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or (pos and text[pos] not in ".[") or (not pos and text[0] == "."):
            raise ValueError(f"unexpected {text[pos:]!r}")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (quoted if quoted is not None else name))
        pos = match.end()
    return parts


def set_value(data: Any, path: str, value: Any) -> Any:
    """A copy of `data` with `value` at `path`; missing objects on the way are created."""
    parts = parse(path)
    root = copy.deepcopy(data)
    node = root
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        last = following is None
        if isinstance(part, int):
            if not isinstance(node, list):
                raise TypeError(f"{part} indexes a non-list")
            if last:
                node[part] = value
            else:
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise TypeError(f"{part!r} is a key of a non-object")
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if isinstance(following, int) else {})
    return root


def delete_value(data: Any, path: str) -> Any:
    """A copy of `data` without the value at `path`; a path that is not there leaves it unchanged."""
    parts = parse(path)
    root = copy.deepcopy(data)
    node = root
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return root
    last = parts[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node.pop(last)
    return root
