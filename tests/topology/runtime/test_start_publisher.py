"""The start publisher against a broker that goes away: a local TCP proxy in front of RabbitMQ stands in for a
broker restart (the shared broker itself is never stopped)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest

from topology.runtime import names
from topology.runtime.broker import Outgoing
from topology.runtime.start_publisher import PublishError, StartPublisher

pytestmark = [pytest.mark.slow]


class Proxy:
    """Forwards TCP connections from an ephemeral port to the broker; `down()` cuts them and stops listening."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone does not
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_publishes_fail_while_the_broker_is_away_then_reconnect_with_backoff(settings):
    broker_url = settings.AMQP_URL
    parts = urlsplit(broker_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5672))
    proxy.up()
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    settings.AMQP_URL = urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.port}"))
    settings.FLOWYARD_EXCHANGE = settings.FLOWYARD_QUEUE_PREFIX = f"fytest-publisher-{uuid.uuid4().hex[:8]}"
    publisher = StartPublisher()
    message = [[Outgoing(routing_key="", body=b"{}", headers={}, message_id="m", exchange=names.events_exchange())]]
    try:
        publisher.publish(message, timeout=10)
        proxy.down()
        with pytest.raises(PublishError):
            publisher.publish(message, timeout=10)  # the connection died under it, or cannot be opened
        with pytest.raises(PublishError, match=r"unreachable|cannot connect|closed"):
            publisher.publish(message, timeout=10)
        proxy.up()  # the "broker" is back on the same address
        deadline = time.monotonic() + 20
        while True:
            try:
                publisher.publish(message, timeout=10)
                break
            except PublishError:
                assert time.monotonic() < deadline, "the publisher never reconnected"
                time.sleep(0.2)
    finally:
        publisher.close()
        proxy.down()
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        channel.queue_delete(queue=names.events_queue())
        channel.exchange_delete(exchange=names.events_exchange())
        channel.exchange_delete(exchange=names.exchange())
        connection.close()
