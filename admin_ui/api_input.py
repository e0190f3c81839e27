"""API input rules every endpoint shares (named in REST_FRAMEWORK settings): strict JSON, bounded pagination."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

from admin_ui.errors import ServiceError
from admin_ui.ids import MAX_INT, parse_id
from admin_ui.json_input import json_loads

__all__ = ["MAX_INT", "Pagination", "StrictJSONParser"]


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the product's input rules: no deep nesting, NUL or lone surrogates."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return json_loads(raw)
        except ServiceError as exc:
            raise ParseError(exc.detail) from exc


class Pagination(LimitOffsetPagination):
    """limit/offset pagination that refuses what it cannot honour instead of failing in the database."""

    max_limit = 500
    max_offset = MAX_INT

    def _param(self, request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        number = parse_id(raw, minimum=minimum, maximum=maximum)
        if number is None:
            raise ValidationError({name: [f"Give a whole number from {minimum} to {maximum}."]})
        return number

    def get_limit(self, request: Request) -> int:
        return self._param(
            request, self.limit_query_param, default=self.default_limit or 50, minimum=1, maximum=self.max_limit
        )

    def get_offset(self, request: Request) -> int:
        return self._param(request, self.offset_query_param, default=0, minimum=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
