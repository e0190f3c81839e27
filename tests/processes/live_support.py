"""Websocket test helpers: a unique channel-layer prefix per test, and a communicator logged in as a user."""

from __future__ import annotations

import uuid
from typing import Any

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

ORIGIN = b"http://testserver"


def unique_channel_layers() -> dict[str, Any]:
    """The real Redis layer under a prefix of its own, so parallel runs and the dev server never cross."""
    layers = {k: {**v, "CONFIG": {**v["CONFIG"]}} for k, v in settings.CHANNEL_LAYERS.items()}
    layers["default"]["CONFIG"]["prefix"] = f"fytest{uuid.uuid4().hex[:10]}"
    return layers


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(path: str, *, cookie: str | None = None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    """`cookie`: a session key from session_cookie() (made outside the event loop: logging in is sync ORM work)."""
    from admin_ui.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", origin)]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)
