"""The webhook intake `POST /hooks/<token>`: a plain async Django view, and the lane that serves it on the event
loop (`admin_ui.lanes`: no thread hop, no middleware but what the route needs). A webhook is an anonymous JSON POST:
sessions, CSRF and authentication have nothing to do on it. Django's own stack still serves the route (the test
client, Daphne in development): both run `webhook_intake`.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from admin_ui.api_errors import STATUS, error_body
from admin_ui.errors import ServiceError
from admin_ui.lanes import Asgi, Receive, Scope, Send, serve
from processes.services import webhook_start
from topology.webhooks import SIGNATURE_HEADER

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
        token = match.group(1)
        await serve(scope, receive, send, lambda request: webhook_intake(request, token), name="webhook intake")

    return lane
