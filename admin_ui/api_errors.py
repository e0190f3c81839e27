"""One error shape for the whole API, mapped here once: {"detail": "...", "errors": {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from admin_ui.errors import Refusal, ServiceError

STATUS = {
    Refusal.INVALID: 400,
    Refusal.UNAUTHENTICATED: 401,
    Refusal.NOT_FOUND: 404,
    Refusal.CONFLICT: 409,
    Refusal.TOO_LARGE: 413,
    Refusal.UNSUPPORTED_MEDIA: 415,
    Refusal.UNAVAILABLE: 503,
}


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every 4xx and 5xx answer of the API."""

    # Declared in get_fields(): a class attribute named `errors` would shadow Serializer.errors.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "detail": serializers.CharField(),
            "errors": serializers.JSONField(
                help_text="Per field ({name: [messages]}) or per BPMN element ([{element_id, message}])."
            ),
        }


def error_body(detail: str, errors: Any = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors if errors is not None else {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.detail, exc.errors), status=STATUS[exc.reason])
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("Invalid input.", errors), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        response.data = error_body(str(data["detail"]), {k: v for k, v in data.items() if k != "detail"} or None)
        return response
    response.data = error_body("Invalid input.", data)
    return response
