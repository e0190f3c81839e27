"""Oversized bodies of API and webhook requests are refused with the API's JSON 413 before anything reads them.

Django raises RequestDataTooBig where the body is first read: in the CSRF check of a session request, or in the
view; either way the answer was an HTML 400. Checking Content-Length here answers the same JSON in every
authentication mode (session, token, anonymous webhook).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from admin_ui.api_errors import error_body

JSON_PREFIXES = ("/api/", "/hooks/")


def too_large(length: int) -> JsonResponse | None:
    """The JSON 413 for a body of `length` bytes over DATA_UPLOAD_MAX_MEMORY_SIZE, else None (also for the
    ASGI lanes, which read bodies without this middleware)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or length <= limit:
        return None
    return JsonResponse(error_body(f"The request body is too large: larger than {limit} bytes."), status=413)


class BodyLimitMiddleware:
    """413 JSON for /api/ and /hooks/ requests whose declared body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(JSON_PREFIXES):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            refusal = too_large(length)
            if refusal is not None:
                return refusal
        return self.get_response(request)
