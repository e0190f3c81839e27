"""The start publisher: one long-lived confirming AMQP channel per process, shared by all concurrent starts.

A start is answered only once RabbitMQ has confirmed its messages, but requests must not wait for each other's
confirms: this publisher runs a pika `SelectConnection` on a thread of its own (started on first use and again
after a fork), so the publishes of concurrent requests — async views on the server's loop, sync views and Celery
tasks on their threads — share one channel and their confirms pipeline (`broker.Confirms`, the same bookkeeping
as the engine's). When the broker goes away the pending publishes fail (the caller answers 503; nothing was
accepted) and the next publish reconnects, with exponential backoff between failed attempts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import AMQPError

from topology.runtime import broker, names, pika_writes
from topology.runtime.broker import Outgoing

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 10.0


class PublishError(AMQPError):
    """The broker did not confirm a start's messages: nothing was accepted."""


@dataclass(eq=False)
class _Job:
    """One caller's publishes, in rounds: a round goes out once the previous one is confirmed."""

    rounds: list[list[Outgoing]]
    future: concurrent.futures.Future[None]
    pending: int = 0
    message_ids: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        if not self.future.done():
            self.future.set_exception(PublishError(reason))


def _key() -> tuple[str, str, str]:
    return (settings.AMQP_URL, names.exchange(), names.prefix())


class _Link:
    """One connection and its channel; everything but `submit` and `close` runs on its ioloop thread."""

    def __init__(self, owner: StartPublisher) -> None:
        self.owner = owner
        self.pid = os.getpid()
        self.key = _key()
        self.alive = True
        self.opened = False
        self.channel: Any = None
        self.waiting: list[_Job] = []  # submitted before the channel was open
        # Submitted by callers, not yet taken by the ioloop: one wake-up of the ioloop takes them all, so a busy
        # web worker does not write to the ioloop's wake-up pipe once per request.
        self.submitted: list[_Job] = []
        self.submit_lock = threading.Lock()
        self.jobs: set[_Job] = set()
        self.by_message_id: dict[str, _Job] = {}
        self.confirms = broker.Confirms()
        pika_writes.coalesce()  # the starts of one wake-up go out in one socket write
        self.connection = SelectConnection(
            broker.connection_parameters(),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda _conn, err: self._closed(f"cannot connect to the broker: {err}"),
            on_close_callback=lambda _conn, reason: self._closed(f"connection closed: {reason}"),
        )
        self.thread = threading.Thread(target=self.connection.ioloop.start, name="start-publisher", daemon=True)
        self.thread.start()

    def submit(self, job: _Job) -> None:
        with self.submit_lock:
            self.submitted.append(job)
            if len(self.submitted) > 1:
                return  # a wake-up is already on its way and will take this job too
        try:
            self.connection.ioloop.add_callback_threadsafe(self._take_submitted)
        except Exception as exc:  # the ioloop is gone
            self.alive = False
            for failed in self._submitted_jobs():
                failed.fail(f"the broker connection is closed: {exc}")

    def _submitted_jobs(self) -> list[_Job]:
        with self.submit_lock:
            jobs, self.submitted = self.submitted, []
        return jobs

    def close(self) -> None:
        if self.alive:
            try:
                self.connection.ioloop.add_callback_threadsafe(self._close)
            except Exception:  # already stopped
                return
            self.thread.join(10)

    # ------------------------------------------------------------------------------------------ ioloop thread

    def _take_submitted(self) -> None:
        for job in self._submitted_jobs():
            self._begin(job)

    def _close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(lambda _ch, reason: self._close_on(f"channel closed: {reason}"))
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm)
        # As `broker.declare_infrastructure` declares them, so a start is routable before any engine ran; the
        # broker handles a channel's commands in order, so publishing need not wait for the declare-oks.
        channel.exchange_declare(exchange=names.exchange(), exchange_type="topic", durable=True)
        channel.exchange_declare(exchange=names.events_exchange(), exchange_type="fanout", durable=True)
        channel.queue_declare(
            queue=names.events_queue(),
            durable=True,
            arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
        )
        channel.queue_bind(queue=names.events_queue(), exchange=names.events_exchange(), routing_key="")
        self.opened = True
        self.owner._connected()
        waiting, self.waiting = self.waiting, []
        for job in waiting:
            self._begin(job)

    def _close_on(self, reason: str) -> None:
        if self.connection.is_open:
            self.connection.close()
        self._fail_all(reason)

    def _closed(self, reason: str) -> None:
        self.alive = False
        if not self.opened:
            self.owner._connect_failed(reason)
        self._fail_all(reason)
        self.connection.ioloop.stop()

    def _fail_all(self, reason: str) -> None:
        for job in [*self.waiting, *self.jobs, *self._submitted_jobs()]:
            job.fail(reason)
        self.waiting.clear()
        self.jobs.clear()
        self.by_message_id.clear()

    def _begin(self, job: _Job) -> None:
        if not self.alive:
            job.fail("the broker connection is closed")
        elif self.channel is None:
            self.waiting.append(job)
        elif not self.channel.is_open:
            job.fail("the broker channel is closed")
        else:
            self.jobs.add(job)
            self._send_round(job)

    def _send_round(self, job: _Job) -> None:
        messages = job.rounds.pop(0)
        job.pending = len(messages)
        for message in messages:
            self.channel.basic_publish(
                exchange=message.exchange or names.exchange(),
                routing_key=message.routing_key,
                body=message.body,
                properties=broker.properties(headers=message.headers, message_id=message.message_id),
                mandatory=True,
            )
            self.by_message_id[message.message_id] = job
            job.message_ids.append(message.message_id)
            self.confirms.published(
                functools.partial(self._acked, job), functools.partial(self._done, job, "the broker refused (nack)")
            )

    def _on_confirm(self, frame: Any) -> None:
        self.confirms.on_frame(frame)

    def _on_return(self, _channel: Any, method: Any, props: Any, _body: bytes) -> None:
        # The broker sends basic.return before the confirm of an unroutable mandatory message.
        job = self.by_message_id.get(props.message_id or "")
        if job is not None:
            self._done(job, f"unroutable: {method.routing_key}")

    def _acked(self, job: _Job) -> None:
        job.pending -= 1
        if job.pending or job.future.done():
            if job.future.done():
                self._forget(job)
            return
        if job.rounds:
            self._send_round(job)
        else:
            job.future.set_result(None)
            self._forget(job)

    def _done(self, job: _Job, reason: str) -> None:
        job.fail(reason)
        self._forget(job)

    def _forget(self, job: _Job) -> None:
        self.jobs.discard(job)
        for message_id in job.message_ids:
            if self.by_message_id.get(message_id) is job:
                del self.by_message_id[message_id]
        job.message_ids.clear()


class StartPublisher:
    """Thread-safe: `publish` from sync code, `await apublish` from async code; both return after the confirms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._link: _Link | None = None
        self._failures = 0
        self._retry_at = 0.0

    def publish(self, rounds: list[list[Outgoing]], *, timeout: float = 30) -> None:
        """Publish round by round (a round once the previous one is confirmed); raises PublishError."""
        future = self._submit(rounds)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            raise PublishError(f"no confirm within {timeout}s") from exc

    async def apublish(self, rounds: list[list[Outgoing]], *, timeout: float = 30) -> None:
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no task of its own per call
                await asyncio.wrap_future(self._submit(rounds))
        except TimeoutError as exc:
            raise PublishError(f"no confirm within {timeout}s") from exc

    def close(self) -> None:
        """Close the connection (tests, shutdown); the next publish opens a new one."""
        with self._lock:
            link, self._link = self._link, None
        if link is not None and link.pid == os.getpid():
            link.close()

    def _submit(self, rounds: list[list[Outgoing]]) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        job = _Job(rounds=[list(r) for r in rounds if r], future=future)
        if not job.rounds:
            future.set_result(None)
            return future
        with self._lock:
            link = self._link
            if link is None or not link.alive or link.pid != os.getpid() or link.key != _key():
                wait = self._retry_at - time.monotonic()
                if wait > 0:
                    job.fail(f"the broker is unreachable; next attempt in {wait:.1f}s")
                    return future
                if link is not None and link.pid == os.getpid():
                    link.close()
                link = self._link = _Link(self)
        link.submit(job)
        return future

    def _connected(self) -> None:
        self._failures = 0

    def _connect_failed(self, reason: str) -> None:
        self._failures += 1
        backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + backoff
        log.warning("start publisher: %s; next attempt in %.1fs", reason, backoff)


start_publisher = StartPublisher()
