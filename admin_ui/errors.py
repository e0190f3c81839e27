"""The one error type services raise when they refuse a request; the API's exception handler maps it once."""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any


class Refusal(StrEnum):
    """Why a request was refused; `admin_ui.api_errors` turns each into one HTTP status."""

    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    UNAVAILABLE = "unavailable"


class ServiceError(Exception):
    """A rule of the domain refused the request and nothing was changed; `detail` is shown to people as is."""

    def __init__(self, detail: str, *, errors: Any = None, reason: Refusal = Refusal.INVALID) -> None:
        super().__init__(detail)
        self.detail = detail
        # Per field ({"name": ["..."]}) or per element ([{"element_id": ..., "message": ...}]).
        self.errors = errors if errors is not None else {}
        self.reason = reason


def refuse_control_characters(value: str, *, field: str = "name") -> str:
    """`value` unchanged, or a ServiceError when it holds a control character (tab, NUL, ...) or a lone surrogate."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        message = "Control characters (such as tabs, newlines or NUL) are not allowed."
        raise ServiceError(message, errors={field: [message]})
    return value
