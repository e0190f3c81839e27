"""Requests through the web process's ASGI application (`admin_ui.asgi`) as the server hands them over, in the
test's thread (so the view's database lookups see the test's rows)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync

from admin_ui.asgi import application
from topology.runtime.start_publisher import start_publisher

JSON = "application/json"


def lane_call(
    path: str, body: bytes = b"{}", *, method: str = "POST", chunks: int = 1, headers: dict[str, str] | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through the web process's ASGI application (`admin_ui.asgi`), as the server hands it over."""
    return async_to_sync(lane_request)(path, body, method=method, chunks=chunks, headers=headers)


async def lane_request(
    path: str, body: bytes = b"{}", *, method: str = "POST", chunks: int = 1, headers: dict[str, str] | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    """`lane_call` on the running event loop (several at once with asyncio.gather)."""
    size = -(-len(body) // chunks) or 1
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    incoming = [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)]
    sent: list[dict[str, Any]] = []
    wire = {"host": "testserver", "content-type": JSON, **(headers or {})}
    if chunks == 1:
        wire.setdefault("content-length", str(len(body)))

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays connected until answered
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in wire.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {name.lower(): value for name, value in start["headers"]}, content


@contextlib.contextmanager
def broker_unreachable(settings: Any) -> Iterator[None]:
    """AMQP_URL on a closed port for the block; after it, wait out the start publisher's reconnect backoff so the
    next test's publishes go through."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    broker_url = settings.AMQP_URL
    settings.AMQP_URL = f"amqp://guest:guest@127.0.0.1:{closed_port}/"
    try:
        yield
    finally:
        settings.AMQP_URL = broker_url
        time.sleep(max(0.0, start_publisher._retry_at - time.monotonic()))
