"""ASGI lanes: the few hot routes the web process serves straight on the event loop, in front of Django's handler
(`admin_ui/routing.py` lists them, `admin_ui/asgi.py` wires them).

Why: through Django's handler every request hops to worker threads (the request signals, each sync middleware, the
response's close), and asgiref starts a new thread for each request's thread-sensitive context; py-spy showed those
thread starts and hops as most of the web worker's CPU per start. A lane runs its async view with none of them and
applies here what such a route needs of the middleware: the body limit (413), ALLOWED_HOSTS, and SecurityMiddleware
(the HTTPS redirect, HSTS, `nosniff`, the referrer and opener policies). Sessions, CSRF, CSP and frame options have
nothing to do on the JSON POSTs lanes take. A lane's database work goes through `admin_ui.db_thread`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.security import SecurityMiddleware

from admin_ui.api_errors import error_body
from admin_ui.body_limit import too_large

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
View = Callable[[HttpRequest], Awaitable[HttpResponse]]


def header(scope: Scope, name: bytes) -> bytes | None:
    """A request header as Django reads it (repeated headers joined by commas), or None when absent."""
    values = [value for key, value in scope["headers"] if key.lower() == name]
    return b",".join(values) if values else None


async def serve(scope: Scope, receive: Receive, send: Send, view: View, *, name: str) -> None:
    """Read the body, check the request as the middleware would, answer with `view` (`name` is for the log)."""
    body = await _body(scope, receive)
    if body is None:
        return  # the client went away
    request = ASGIRequest(scope, io.BytesIO(body if isinstance(body, bytes) else b""))
    security = _security()
    response = body if isinstance(body, HttpResponse) else await _respond(request, view, name, security)
    response = security.process_response(request, response)
    headers = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


async def _body(scope: Scope, receive: Receive) -> bytes | HttpResponse | None:
    """The request body, a 413 once it is over the limit, or None when the client went away."""
    declared = header(scope, b"content-length") or b"0"
    refusal = too_large(int(declared) if declared.isdigit() else 0)
    if refusal is not None:
        return refusal
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        refusal = too_large(size)
        if refusal is not None:
            return refusal
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(request: HttpRequest, view: View, name: str, security: SecurityMiddleware) -> HttpResponse:
    try:
        request.get_host()  # ALLOWED_HOSTS, as Django's CommonMiddleware checks it
    except DisallowedHost:
        return JsonResponse(error_body("Invalid Host header."), status=400)
    redirect = security.process_request(request)  # SECURE_SSL_REDIRECT
    if redirect is not None:
        return redirect
    try:
        return await view(request)
    except Exception:
        log.exception("%s failed", name)  # not the path: a webhook's holds its token
        return JsonResponse(error_body("Internal server error."), status=500)


def _security() -> SecurityMiddleware:
    # One per request (it reads its settings when made), for both of its steps: tests that change the settings see
    # them.
    return SecurityMiddleware(_no_response)


def _no_response(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # only the middleware's process_request and process_response are used
