"""RabbitMQ plumbing shared by the engine, the web process and Celery: declarations, publisher-confirm
bookkeeping (`Confirms`, the one place that maps broker confirms to waiting callbacks) and confirming publishers."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pika
from django.conf import settings
from pika.exceptions import AMQPError

from topology.runtime import names
from topology.runtime.spec import NodeSpec, VersionSpec

log = logging.getLogger(__name__)


def amqp_urls() -> list[str]:
    """The broker's URLs: `AMQP_URL` is one node, or the nodes of a cluster separated by commas."""
    return [url.strip() for url in str(settings.AMQP_URL).split(",") if url.strip()]


_turn = itertools.count()


def _parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 60
    return params


def connection_parameters() -> pika.URLParameters:
    """Parameters of the next node to try: each (re)connect takes the next URL, so a stopped node is passed over."""
    urls = amqp_urls()
    return _parameters(urls[next(_turn) % len(urls)])


def all_connection_parameters() -> list[pika.URLParameters]:
    """Every node's parameters, starting at the next in turn: a BlockingConnection tries them in this order."""
    urls = amqp_urls()
    first = next(_turn) % len(urls)
    return [_parameters(url) for url in urls[first:] + urls[:first]]


def declare_infrastructure(channel: Any) -> None:
    """Exchanges, delay tiers and the events queue; idempotent, called by every engine and publisher."""
    channel.exchange_declare(exchange=names.exchange(), exchange_type="topic", durable=True)
    channel.exchange_declare(exchange=names.control_exchange(), exchange_type="fanout", durable=True)
    channel.exchange_declare(exchange=names.events_exchange(), exchange_type="fanout", durable=True)
    channel.queue_declare(
        queue=names.events_queue(),
        durable=True,
        # One active recorder at a time sees the batches in publish order, so a message's emission is
        # always counted before its consumption and processes never look finished too early.
        arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
    )
    channel.queue_bind(queue=names.events_queue(), exchange=names.events_exchange(), routing_key="")
    for ms in names.delay_tiers():
        # A fanout exchange in front of each tier keeps the message's own routing key, which dead-lettering
        # reuses to bring the message back to its node queue on the main exchange.
        channel.exchange_declare(exchange=names.delay_exchange(ms), exchange_type="fanout", durable=True)
        # Quorum, like every queue a message waits in: replicated, so a cluster node going down loses no delayed
        # message. At-least-once dead-lettering (which needs reject-publish) keeps an expired message in the tier
        # until its node queue confirms it, where at-most-once would drop it if that failed.
        channel.queue_declare(
            queue=names.delay_queue(ms),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": ms,
                "x-dead-letter-exchange": names.exchange(),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        channel.queue_bind(queue=names.delay_queue(ms), exchange=names.delay_exchange(ms), routing_key="")


def declare_node(channel: Any, node: NodeSpec) -> list[str]:
    queues = node.queues()
    for queue in queues:
        channel.queue_declare(queue=queue, durable=True, arguments=node.queue_arguments())
        channel.queue_bind(queue=queue, exchange=names.exchange(), routing_key=queue)
    return queues


def declare_version(channel: Any, version: VersionSpec) -> list[str]:
    declared: list[str] = []
    for node in version.nodes.values():
        declared.extend(declare_node(channel, node))
    return declared


def properties(*, headers: dict[str, str], message_id: str) -> pika.BasicProperties:
    return pika.BasicProperties(
        headers=headers,
        message_id=message_id,
        delivery_mode=2,
        content_type="application/json",
        timestamp=None,
    )


class Confirms:
    """Publisher-confirm bookkeeping of one channel in confirm mode.

    The broker numbers a channel's publishes 1, 2, 3… and confirms them by number, singly or with `multiple`
    (everything up to that number). Register each publish with its callbacks right after `basic_publish`;
    hand every confirm frame to `confirm`. Callbacks run in publish order; a nack runs `on_nack`.
    """

    def __init__(self) -> None:
        self._sequence = 0
        self._order: deque[int] = deque()
        self._callbacks: dict[int, tuple[Callable[[], None], Callable[[], None]]] = {}

    def __len__(self) -> int:
        return len(self._callbacks)

    def published(self, on_ack: Callable[[], None], on_nack: Callable[[], None]) -> int:
        """Register the publish just made; returns its sequence number."""
        self._sequence += 1
        self._order.append(self._sequence)
        self._callbacks[self._sequence] = (on_ack, on_nack)
        return self._sequence

    def confirm(self, tag: int, *, ack: bool, multiple: bool) -> None:
        """Apply one confirm (`Basic.Ack` or `Basic.Nack`) from the broker and run the callbacks it settles."""
        settled: list[Callable[[], None]] = []
        if multiple:
            while self._order and self._order[0] <= tag:
                entry = self._callbacks.pop(self._order.popleft(), None)
                if entry is not None:
                    settled.append(entry[0] if ack else entry[1])
        else:
            entry = self._callbacks.pop(tag, None)
            if entry is not None:
                settled.append(entry[0] if ack else entry[1])
            while self._order and self._order[0] not in self._callbacks:
                self._order.popleft()
        for callback in settled:
            callback()

    def on_frame(self, frame: Any) -> None:
        """`channel.confirm_delivery` callback: pika's confirm frame to `confirm`."""
        method = frame.method
        self.confirm(method.delivery_tag, ack=isinstance(method, pika.spec.Basic.Ack), multiple=bool(method.multiple))


@dataclass
class Outgoing:
    """One message to publish with a confirm (see `start_publisher`)."""

    routing_key: str
    body: bytes
    headers: dict[str, str]
    message_id: str
    exchange: str = ""  # the main exchange unless set (the events exchange for a start's runs)


class Publisher:
    """A thread-safe, reconnecting, confirming publisher for short-lived callers (web requests, tasks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._key: tuple[str, str, str] | None = None

    def _open(self) -> Any:
        key = (settings.AMQP_URL, names.exchange(), names.prefix())
        if self._channel is not None and self._channel.is_open and self._key == key:
            return self._channel
        self.close()
        self._connection = pika.BlockingConnection(all_connection_parameters())
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        declare_infrastructure(self._channel)
        self._key = key
        return self._channel

    def close(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except AMQPError:
            pass
        self._connection = None
        self._channel = None

    def run(self, fn: Any) -> Any:
        """Run `fn(channel)` under the lock, reconnecting once if the connection went away."""
        with self._lock:
            for attempt in range(2):
                try:
                    return fn(self._open())
                except (AMQPError, OSError):
                    self.close()
                    if attempt:
                        raise
        return None

    def publish(
        self, *, routing_key: str, body: bytes, headers: dict[str, str], message_id: str, exchange: str = ""
    ) -> None:
        """Publish (to the main exchange unless told) and wait for the broker's confirm; unroutable messages raise."""

        def send(channel: Any) -> None:
            channel.basic_publish(
                exchange=exchange or names.exchange(),
                routing_key=routing_key,
                body=body,
                properties=properties(headers=headers, message_id=message_id),
                mandatory=True,
            )

        self.run(send)

    def broadcast(self, message: dict[str, Any]) -> None:
        """Tell every running engine something (reload, terminate) through the control fanout exchange."""

        def send(channel: Any) -> None:
            channel.basic_publish(exchange=names.control_exchange(), routing_key="", body=json.dumps(message).encode())

        self.run(send)

    def declare_versions(self, versions: Iterable[VersionSpec]) -> list[str]:
        def declare(channel: Any) -> list[str]:
            declared: list[str] = []
            for version in versions:
                declared.extend(declare_version(channel, version))
            return declared

        result: list[str] = self.run(declare)
        return result


publisher = Publisher()
