"""The webhook intake `POST /hooks/<token>`: a plain async Django view, and the lane that serves it from the ASGI
server straight to the event loop.

Why the lane: through Django's handler every request hops to worker threads (the request signals, each sync
middleware, the response's close), and asgiref starts a new thread for each request's thread-sensitive context;
py-spy showed those thread starts and hops as most of the web worker's CPU per webhook. The lane runs the same
view with none of them. What a webhook needs of the middleware is applied here: the body limit, ALLOWED_HOSTS and
`nosniff`; sessions, CSRF, authentication, tenancy, CSP and frame options have nothing to do on an anonymous JSON
POST. Django's own stack
still serves the route (the test client, Daphne in development): both run `webhook_intake`.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from admin_ui.api_errors import STATUS, error_body
from admin_ui.body_limit import too_large
from admin_ui.errors import ServiceError
from processes.services import webhook_start
from topology.webhooks import SIGNATURE_HEADER

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

HOOK_PATH = re.compile(r"/hooks/([^/]+)")  # as the URL pattern `hooks/<str:token>`


@csrf_exempt  # the token in the URL is the credential: no session, no CSRF cookie
async def webhook_intake(request: HttpRequest, token: str) -> HttpResponse:
    """Start a process from the JSON body; answers 202 with the correlation id once RabbitMQ confirmed it."""
    if request.method != "POST":
        detail = f'Method "{request.method}" not allowed.'
        return JsonResponse(error_body(detail), status=405, headers={"Allow": "POST"})
    content_type = request.META.get("CONTENT_TYPE", "")
    try:
        accepted = await webhook_start(
            token=token,
            body=request.body,
            headers={"webhook-content-type": content_type},
            signature=request.headers.get(SIGNATURE_HEADER),
            content_type=content_type,
        )
    except ServiceError as exc:
        return JsonResponse(error_body(exc.detail, exc.errors), status=STATUS[exc.reason])
    return JsonResponse({"correlation_id": accepted.correlation_id, "status": accepted.status}, status=202)


def webhook_lane(app: Asgi) -> Asgi:
    """Serve `POST /hooks/<token>` with `webhook_intake` on the event loop; everything else goes to `app`."""

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        match = HOOK_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        response = await _respond(scope, receive, match.group(1))
        if response is not None:
            await _send(send, response)

    return lane


async def _respond(scope: Scope, receive: Receive, token: str) -> HttpResponse | None:
    """The view's answer, a 413 for a body over the limit, or None when the client went away."""
    declared = dict(scope["headers"]).get(b"content-length", b"0")
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
            break
    request = ASGIRequest(scope, io.BytesIO(b"".join(chunks)))
    try:
        request.get_host()  # ALLOWED_HOSTS, as Django's CommonMiddleware checks it
    except DisallowedHost:
        return JsonResponse(error_body("Invalid Host header."), status=400)
    try:
        return await webhook_intake(request, token)
    except Exception:
        log.exception("webhook intake failed")
        return JsonResponse(error_body("Internal server error."), status=500)


async def _send(send: Send, response: HttpResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")  # as SecurityMiddleware answers
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
