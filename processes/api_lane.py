"""The REST start `POST /api/topologies/<name>/start` of an API token, served on the event loop (`admin_ui.lanes`).

It answers as `processes.api.TopologyStartApi` does, in DRF's order: the token (401), its scope and its creator's
current role (403), the token's rate (429), then the start (`atopology_start`: 404, 409, 400, 413, 503, and the 202
once RabbitMQ confirmed). Like the view it takes any Content-Type: the body is the payload, checked as JSON.

The token's checks are made for every request, never cached (a revoked token or a demoted creator is refused at
once): one query and one Redis round trip on the database thread for all the requests waiting at the time.

Everything else goes to Django's stack and the DRF view: requests without a Bearer token (a browser's session, with
its CSRF check), and Accept headers or `?format=` that could ask DRF for another renderer; so do the test client
and the schema generator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer

from admin_ui.api_errors import STATUS, error_body
from admin_ui.authentication import TenantPermission, api_tokens_for_keys, bearer_key, token_allows
from admin_ui.db_thread import Batched
from admin_ui.errors import ServiceError
from admin_ui.lanes import Asgi, Receive, Scope, Send, header, serve
from admin_ui.models import ApiToken
from admin_ui.throttle import api_token_waits
from processes.api import START_PERM, START_URL_NAME
from processes.services import atopology_start

START_PATH = re.compile(r"/api/topologies/([^/]+)/start")  # as `api/` + `topologies/<str:name>/start`
# Accept headers for which DRF's negotiation picks its JSON renderer; any other goes to DRF (406, the browsable API).
JSON_RANGES = frozenset({b"", b"*/*", b"application/*", b"application/json"})


def rest_start_lane(app: Asgi) -> Asgi:
    """Serve an API token's `POST /api/topologies/<name>/start` on the event loop; everything else goes to `app`."""

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        match = START_PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        key = bearer_key(header(scope, b"authorization") or b"") if match is not None else None
        if match is None or key is None or not _json_only(scope):
            await app(scope, receive, send)
            return
        name = match.group(1)
        await serve(scope, receive, send, lambda request: _start(request, name, key), name="REST start")

    return lane


def _json_only(scope: Scope) -> bool:
    accepted = {media.strip().lower() for media in (header(scope, b"accept") or b"").split(b",")}
    return accepted <= JSON_RANGES and "format" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))


async def _start(request: HttpRequest, name: str, key: str) -> HttpResponse:
    token = await _authorize(key)
    if isinstance(token, HttpResponse):
        return token
    try:
        accepted = await atopology_start(
            tenant=token.tenant, name=name, body=request.body, node_key=request.GET.get("node") or None
        )
    except ServiceError as exc:
        return _json(error_body(exc.detail, exc.errors), STATUS[exc.reason])
    return _json({"correlation_id": accepted.correlation_id, "status": accepted.status}, 202)


def _authorize_all(keys: list[str]) -> list[ApiToken | HttpResponse]:
    """For each request's key, its token if it may start now, else DRF's answer: one query and one Redis round trip
    for all of them (on the database thread)."""
    found = api_tokens_for_keys(keys)
    answers: list[ApiToken | HttpResponse] = []
    for key in keys:
        token = found[key]
        if isinstance(token, ServiceError):
            answers.append(_json(error_body(token.detail), 401, {"WWW-Authenticate": "Bearer"}))
        elif not token_allows(token, START_URL_NAME, "POST", START_PERM):
            answers.append(_json(error_body(TenantPermission.message), 403))
        else:
            answers.append(token)
    # Counted after the permission, as DRF throttles after its permission checks.
    allowed = [(i, answer) for i, answer in enumerate(answers) if isinstance(answer, ApiToken)]
    for (i, _), wait in zip(allowed, api_token_waits([token for _, token in allowed]), strict=True):
        if wait:
            answers[i] = _json(error_body(str(Throttled(wait).detail)), 429, {"Retry-After": str(wait)})
    return answers


# The token checks of the requests that arrive while the database thread is busy go together (`db_thread.Batched`).
_authorize: Batched[str, ApiToken | HttpResponse] = Batched(_authorize_all)


def _json(data: Any, status: int, headers: Mapping[str, str] | None = None) -> HttpResponse:
    # DRF's renderer, so that the bytes are the view's (compact separators, UTF-8).
    return HttpResponse(JSONRenderer().render(data), status=status, content_type="application/json", headers=headers)
