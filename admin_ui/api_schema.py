"""OpenAPI schema generation: every operation documents the errors it can answer, in the one error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import IsAuthenticated

from admin_ui.api_errors import ErrorSerializer

WRITE_METHODS = {"POST", "PUT", "PATCH"}


class ApiSchema(AutoSchema):
    """AutoSchema plus the 4xx answers implied by how an endpoint is built (auth, path ids, input, throttles)."""

    def _error_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses = []
        parameters = operation.get("parameters", [])
        if self.method in WRITE_METHODS or any(p["in"] == "query" for p in parameters):
            statuses.append(400)
        if any(isinstance(p, IsAuthenticated) for p in self.view.get_permissions()):
            statuses += [401, 403]
        if any(p["in"] == "path" for p in parameters):
            statuses.append(404)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for status in self._error_statuses(operation):
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    ErrorSerializer, str(status), media_types=["application/json"]
                )
        return operation
