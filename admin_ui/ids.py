"""Whole numbers from request text: ids, version numbers, counts."""

from __future__ import annotations

from typing import Any

# The largest value a database integer column holds; bigger numbers are refused, not overflowed.
MAX_INT = 2**63 - 1


def parse_id(value: Any, *, minimum: int = 1, maximum: int = MAX_INT) -> int | None:
    """`value` as an int in [minimum, maximum], else None.

    str.isdigit() accepts "²" (int() refuses it) and int() refuses thousands of digits: only short ASCII digits pass.
    """
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None
