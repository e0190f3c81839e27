"""The start publisher: one long-lived confirming AMQP channel per process, shared by all concurrent starts.

A start is answered only once RabbitMQ has confirmed its messages, but requests must not wait for each other's
confirms: this publisher runs aio-pika on an event loop of its own (a daemon thread, started on first use and
again after a fork), so the publishes of concurrent requests — async views on the server's loop, sync views
and Celery tasks on their threads — share one channel and their confirms pipeline. When the broker goes away the
pending publishes fail (the caller answers 503; nothing was accepted) and the next publish reconnects, with
exponential backoff between attempts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from django.conf import settings
from pika.exceptions import AMQPError

from topology.runtime import names
from topology.runtime.broker import Outgoing

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


class PublishError(AMQPError):
    """The broker did not confirm a start's messages: nothing was accepted."""


class StartPublisher:
    """Thread-safe: `publish` from sync code, `await apublish` from async code; both return after the confirms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reset()

    def _reset(self) -> None:
        # Everything set here belongs to the publisher's own loop.
        self._connecting: asyncio.Lock | None = None
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._key: tuple[str, ...] = ()
        self._failures = 0
        self._retry_at = 0.0

    # ------------------------------------------------------------------------------------------ callers

    def publish(self, rounds: list[list[Outgoing]], *, timeout: float = 30) -> None:
        """Publish round by round (a round once the previous one is confirmed); raises PublishError."""
        future = self._submit(rounds)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise PublishError(f"no confirm within {timeout}s") from exc

    async def apublish(self, rounds: list[list[Outgoing]], *, timeout: float = 30) -> None:
        future = asyncio.wrap_future(self._submit(rounds))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise PublishError(f"no confirm within {timeout}s") from exc

    def _submit(self, rounds: list[list[Outgoing]]) -> concurrent.futures.Future[None]:
        return asyncio.run_coroutine_threadsafe(self._publish_rounds(rounds), self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                # A forked worker inherits the parent's objects but not its thread: start afresh.
                self._reset()
                self._pid = os.getpid()
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="start-publisher", daemon=True).start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        """Close the connection (tests, shutdown); the next publish opens a new one."""
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(10)

    # ------------------------------------------------------------------------------------------ its loop

    async def _publish_rounds(self, rounds: list[list[Outgoing]]) -> None:
        for messages in rounds:
            if not messages:
                continue
            channel = await self._ensure()
            try:
                await asyncio.gather(*(self._publish_one(channel, m) for m in messages))
            except PublishError:
                raise
            except Exception as exc:
                raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    async def _publish_one(self, channel: AbstractChannel, message: Outgoing) -> None:
        exchange = await self._exchange(channel, message.exchange or names.exchange())
        try:
            confirm = await self._send(exchange, message)
        except aio_pika.exceptions.DeliveryError as exc:
            raise PublishError(f"unroutable: {message.routing_key}") from exc
        if isinstance(confirm, aiormq.spec.Basic.Nack | aiormq.spec.Basic.Reject):
            raise PublishError("the broker refused a message (nack)")

    @staticmethod
    async def _send(exchange: AbstractExchange, message: Outgoing) -> Any:
        return await exchange.publish(
            aio_pika.Message(
                message.body,
                headers=dict(message.headers),
                message_id=message.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json",
            ),
            routing_key=message.routing_key,
            mandatory=True,
        )

    async def _exchange(self, channel: AbstractChannel, name: str) -> AbstractExchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            # Delay tiers: declared with their queues by engines and `broker.declare_infrastructure`.
            exchange = await channel.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def _ensure(self) -> AbstractChannel:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        key = (settings.AMQP_URL, names.exchange(), names.prefix())
        async with self._connecting:
            if self._channel is not None and not self._channel.is_closed and self._key == key:
                return self._channel
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise PublishError(f"the broker is unreachable; next attempt in {wait:.1f}s")
            await self._close()
            try:
                self._connection = await aio_pika.connect(settings.AMQP_URL, timeout=CONNECT_TIMEOUT_SECONDS)
                channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
                await self._declare(channel)
            except Exception as exc:
                self._failures += 1
                backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (self._failures - 1))
                self._retry_at = time.monotonic() + backoff
                log.warning("start publisher cannot connect (%s); retrying in %.1fs", exc, backoff)
                await self._close()
                raise PublishError(f"cannot connect to the broker: {exc}") from exc
            self._failures = 0
            self._channel, self._key = channel, key
            return channel

    async def _declare(self, channel: AbstractChannel) -> None:
        """The main and events exchanges and the events queue, as `broker.declare_infrastructure` declares them,
        so a start is routable before any engine ran."""
        self._exchanges[names.exchange()] = await channel.declare_exchange(
            names.exchange(), aio_pika.ExchangeType.TOPIC, durable=True
        )
        events = await channel.declare_exchange(names.events_exchange(), aio_pika.ExchangeType.FANOUT, durable=True)
        self._exchanges[names.events_exchange()] = events
        queue = await channel.declare_queue(
            names.events_queue(),
            durable=True,
            arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
        )
        await queue.bind(events, routing_key="")

    async def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._exchanges = {}
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception as exc:  # closing a broken connection may fail; it is gone either way
                log.debug("closing the start publisher's connection: %s", exc)


start_publisher = StartPublisher()
