"""Raw pika baseline: 5 stages, each a consumer thread with its own connection reading one durable queue and
publishing to the next with publisher confirms, prefetch 100, manual acks after the confirm of the output."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from bench.common import AMQP_URL, RUN_ID, BenchResult, add_throughput, env_float, env_int, payload, queue_type

STAGES = 5
PREFETCH = 100
# The publisher keeps at most this many messages unconfirmed, like a well-behaved producer would.
PUBLISH_WINDOW = 1000


class Stage(threading.Thread):
    """One consumer on its own connection and ioloop; forwards to `next_queue` or, at the end, records latency.

    The input is acked only when the broker confirmed the output (at least once), and acks go out with
    `multiple=True` because outputs are published, and so confirmed, in delivery order."""

    def __init__(self, queue: str, next_queue: str | None, sink: Sink) -> None:
        super().__init__(name=f"stage-{queue}", daemon=True)
        self.queue = queue
        self.next_queue = next_queue
        self.sink = sink
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.conn: SelectConnection | None = None
        self.channel: Any = None
        self._seq = 0
        self._pending: OrderedDict[int, int] = OrderedDict()  # publish seq -> input delivery tag

    def run(self) -> None:
        try:
            self.conn = SelectConnection(
                pika.URLParameters(AMQP_URL), on_open_callback=self._on_open, on_open_error_callback=self._fail
            )
            self.conn.ioloop.start()
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def _fail(self, _conn: Any, exc: BaseException) -> None:
        self.error = exc
        self.ready.set()

    def _on_open(self, conn: SelectConnection) -> None:
        conn.add_on_close_callback(lambda *_: conn.ioloop.stop())
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        if self.next_queue is None:
            channel.basic_qos(prefetch_count=PREFETCH, callback=self._consume)
        else:
            channel.confirm_delivery(
                self._on_confirm, callback=lambda _f: channel.basic_qos(prefetch_count=PREFETCH, callback=self._consume)
            )

    def _consume(self, _frame: Any) -> None:
        self.channel.basic_consume(self.queue, self._on_message, auto_ack=False)
        self.ready.set()

    def _on_message(self, channel: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
        if self.next_queue is None:
            channel.basic_ack(method.delivery_tag)
            self.sink.record(float((props.headers or {})["published-at"]))
            return
        channel.basic_publish(
            "",
            self.next_queue,
            body,
            pika.BasicProperties(
                delivery_mode=2, headers=props.headers, message_id=props.message_id, content_type="application/json"
            ),
        )
        self._seq += 1
        self._pending[self._seq] = method.delivery_tag

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag, multiple = method.delivery_tag, method.multiple
        if multiple:
            last = None
            while self._pending and next(iter(self._pending)) <= tag:
                _, last = self._pending.popitem(last=False)
            if last is not None:
                if isinstance(method, Basic.Ack):
                    self.channel.basic_ack(last, multiple=True)
                else:
                    self.channel.basic_nack(last, multiple=True, requeue=True)
        else:
            dtag = self._pending.pop(tag, None)
            if dtag is not None:
                if isinstance(method, Basic.Ack):
                    self.channel.basic_ack(dtag)
                else:
                    self.channel.basic_nack(dtag, requeue=True)

    def stop(self) -> None:
        conn = self.conn
        if conn is not None and conn.is_open:
            conn.ioloop.add_callback_threadsafe(conn.close)


class Sink:
    """Collects end-to-end latencies at the last stage and says when `expected` messages arrived."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies_ms: list[float] = []
        self.last_at = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def record(self, published_at: float) -> None:
        now = time.time()
        with self._lock:
            self.latencies_ms.append((now - published_at) * 1000)
            self.last_at = now
            if len(self.latencies_ms) >= self.expected:
                self.done.set()


class Publisher(threading.Thread):
    """Publishes `count` messages to the first queue with confirms, `published-at` in a header."""

    def __init__(self, queue: str, count: int) -> None:
        super().__init__(name="publisher", daemon=True)
        self.queue = queue
        self.count = count
        self.sent = 0
        self.confirmed = 0
        self.first_at = 0.0
        self.error: BaseException | None = None
        self.conn: SelectConnection | None = None
        self.channel: Any = None
        self._bodies = [payload(i) for i in range(min(count, 1000))]

    def run(self) -> None:
        try:
            self.conn = SelectConnection(
                pika.URLParameters(AMQP_URL), on_open_callback=self._on_open, on_open_error_callback=self._fail
            )
            self.conn.ioloop.start()
        except BaseException as exc:
            self.error = exc

    def _fail(self, _conn: Any, exc: BaseException) -> None:
        self.error = exc

    def _on_open(self, conn: SelectConnection) -> None:
        conn.add_on_close_callback(lambda *_: conn.ioloop.stop())
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: self._publish_more())

    def _publish_more(self) -> None:
        if not self.first_at:
            self.first_at = time.time()
        while self.sent < self.count and self.sent - self.confirmed < PUBLISH_WINDOW:
            index = self.sent
            self.channel.basic_publish(
                "",
                self.queue,
                self._bodies[index % len(self._bodies)],
                pika.BasicProperties(
                    delivery_mode=2,
                    message_id=f"{RUN_ID}-{index}",
                    content_type="application/json",
                    headers={"published-at": repr(time.time()), "correlation-id": f"{RUN_ID}-{index}"},
                ),
            )
            self.sent += 1

    def _on_confirm(self, frame: Any) -> None:
        self.confirmed = frame.method.delivery_tag if frame.method.multiple else self.confirmed + 1
        if self.sent < self.count:
            self._publish_more()

    def stop(self) -> None:
        conn = self.conn
        if conn is not None and conn.is_open:
            conn.ioloop.add_callback_threadsafe(conn.close)


def run() -> BenchResult:
    """Push BENCH_MESSAGES messages through 5 raw pika stages and report processes/s, p50 and p99."""
    result = BenchResult("pika")
    count = env_int("BENCH_MESSAGES", 20_000)
    timeout = env_float("BENCH_PIKA_TIMEOUT", 300)
    queues = [f"{RUN_ID}.pika.{i}" for i in range(1, STAGES + 1)]
    setup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    threads: list[Stage | Publisher] = []
    try:
        ch = setup.channel()
        for name in queues:
            ch.queue_declare(name, durable=True, arguments={"x-queue-type": queue_type()})
        sink = Sink(count)
        stages = [Stage(q, queues[i + 1] if i + 1 < STAGES else None, sink) for i, q in enumerate(queues)]
        for stage in stages:
            stage.start()
            threads.append(stage)
        for stage in stages:
            if not stage.ready.wait(30) or stage.error:
                raise RuntimeError(f"stage {stage.queue} did not start: {stage.error}")
        publisher = Publisher(queues[0], count)
        threads.append(publisher)
        cpu0, wall0 = time.process_time(), time.monotonic()
        publisher.start()
        finished = sink.done.wait(timeout)
        cpu_cores = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        if publisher.error:
            raise RuntimeError(f"publisher failed: {publisher.error}")
        got = len(sink.latencies_ms)
        elapsed = (sink.last_at or time.time()) - publisher.first_at
        add_throughput(result, count=got, seconds=elapsed, latencies_ms=sink.latencies_ms, unit="processes/s")
        result.details.update(
            {
                "stages": STAGES,
                "prefetch": PREFETCH,
                "queue_type": queue_type(),
                "mode": "threads",
                "process_cpu_cores": round(cpu_cores, 2),
            }
        )
        if not finished:
            result.error = f"only {got}/{count} messages arrived within {timeout:.0f}s"
    finally:
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(timeout=10)
        try:
            ch = setup.channel()
            for name in queues:
                ch.queue_delete(name)
        finally:
            setup.close()
    return result
