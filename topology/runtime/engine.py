"""The engine: consumes node queues, runs each message's step, publishes results with confirms, acks late.

One message's path through this module, top to bottom: `_on_message` (consume) → `_run` (the step: built-in
kinds here on the connection thread, the others in the node pool, see `executor.run_step`) → `_on_result` →
`_finish` (the step's runs join the next event batch) → `_flush` (publish the batch and the outputs behind it)
→ `_on_confirm` → `_settle` (ack the inputs whose event batch and outputs are all confirmed).

Threads: the pika connection thread does all AMQP I/O (SelectConnection); pool kinds (Python, HTTP, joins)
run on node threads and hand their step back through a queue drained once per burst; a loader thread reads the
database on start and on control messages; a watcher thread keeps the terminated-process set fresh; the
recorder (optional) has its own thread and connection.

Delivery guarantee (at least once): for each input the engine publishes the event batch counting it and its
outputs together, and acks the input only when all of them are confirmed. A crash anywhere before the ack
redelivers the input; output ids are derived from the input's id, so the recorder recognises the repeated work
as duplicates. Since a next node's event may then reach the recorder before the event of the run that emitted
its message, the recorder counts a run only after its emitter (header `emitted-by`), so a process never looks
finished early.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

import pika
from django.conf import settings
from django.db import close_old_connections
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import AMQPError

from topology.kinds import INLINE_KINDS
from topology.runtime import broker, limits, names, pika_writes, state
from topology.runtime import headers as h
from topology.runtime.backoff import Backoff
from topology.runtime.events import EventBatch, NodeRun, decode_runs
from topology.runtime.executor import Outcome, Step, outcome_step, poisoned, redelay, run_step
from topology.runtime.pool import NodePool
from topology.runtime.recorder import Recorder
from topology.runtime.results import TERMINATED
from topology.runtime.spec import NodeSpec, RuntimeSpec, load_runtime

log = logging.getLogger("flowyard.engine")

MAX_BATCH_RECORDS = 500
RELOAD_EVERY_SECONDS = 30.0
TERMINATED_REFRESH_SECONDS = 0.5
TERMINATED_RESTORE_SECONDS = 30.0
# Reconnects back off from half a second to 10 s; a stopping engine drains for at most DRAIN_SECONDS, and the
# command's watchdog ends the process after its grace time whatever state the connection is in.
RECONNECT_BASE_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 10.0
DRAIN_SECONDS = 10.0
# A node's prefetch is how many of its messages run at once; the broker may deliver this many times more, so that
# the inputs whose outputs and event batch await their confirms (and then the ack) do not hold a run's slot: a
# slow node (a connector's HTTP call) is then never idle while the broker confirms.
WINDOW_FACTOR = 2


@dataclass
class Job:
    """One delivered input on its way from consume to ack."""

    gen: int
    tag: int
    node: NodeSpec
    headers: dict[str, str]
    body: bytes
    message_id: str
    redelivered: bool
    deliveries: int = 0  # earlier deliveries the broker counted (x-delivery-count)
    # Runs of a start step made outside an engine, carried in the message's headers (reported before ours).
    carried: list[NodeRun] | None = None
    step: Step | None = None
    slot: tuple[int, str] | None = None  # the node whose run slot the job holds while it runs in the pool
    pending: int = 0
    settled: bool = False


def delivery_window(node: NodeSpec) -> int:
    """The broker prefetch of a node's consumer: one for ordered nodes (their order), else a multiple of its runs."""
    prefetch = node.effective_prefetch
    return prefetch if prefetch == 1 else prefetch * WINDOW_FACTOR


def delivery_count(props: Any) -> int:
    """How often the broker delivered this message before (quorum queues count returns in `x-delivery-count`)."""
    try:
        return int((props.headers or {}).get("x-delivery-count") or 0)
    except (TypeError, ValueError):
        return 0


class Engine:
    """One engine process's consumer; run as many side by side as needed."""

    def __init__(
        self,
        *,
        topology: str | None = None,
        node: str | None = None,
        recorder: bool = True,
        engine_id: str | None = None,
    ) -> None:
        self.topology = topology
        self.node = node
        self.with_recorder = recorder
        self.engine_id = engine_id or f"{socket.gethostname()}:{os.getpid()}"
        self.runtime = RuntimeSpec()
        self.terminated: frozenset[str] = frozenset()
        # Terminates heard on the control exchange, kept even when Redis forgot them.
        self._terminated_broadcast: frozenset[str] = frozenset()
        self.pool = NodePool(4)
        self.flush_seconds = max(1, int(settings.FLOWYARD_EVENT_FLUSH_MS)) / 1000
        self.delivery_limit = max(1, int(settings.FLOWYARD_DELIVERY_LIMIT))
        self._stopping = threading.Event()
        self._reload = threading.Event()
        self._limiter_paused: set[str] = set()  # queues not consumed while the limiter's Redis is unreachable
        self._gen = 0
        self._conn: SelectConnection | None = None
        self._ready_once = False
        self._drain_deadline = 0.0
        # Results travel from the node threads to the connection thread through this queue; the thread is
        # woken once per burst, not once per result (each wake is a pipe write and an ioloop turn).
        self._results: SimpleQueue[Job] = SimpleQueue()
        self._wake_lock = threading.Lock()
        self._wake_scheduled = False
        self._reset()
        self.recorder: Any = None

    def _reset(self) -> None:
        self._channel: Any = None
        self._consumers: dict[str, str] = {}
        self._queue_of_tag: dict[str, str] = {}
        self._unacked: deque[int] = deque()
        self._ready: set[int] = set()
        self._confirms = broker.Confirms()
        self._batch: list[Job] = []
        self._flush_timer: Any = None
        self._events_unconfirmed = 0
        self._inflight = 0
        self._draining = False
        # Pool runs per node, and the delivered inputs waiting for a slot (see WINDOW_FACTOR).
        self._running: dict[tuple[int, str], int] = {}
        self._waiting: dict[tuple[int, str], deque[Job]] = {}

    # ------------------------------------------------------------------------------------------ lifecycle

    def run(self) -> None:
        """Run until `stop()` (SIGTERM/SIGINT in the command); reconnects with backoff after broker failures."""
        pika_writes.coalesce()  # one socket write per ioloop turn (topology/runtime/pika_writes.py)
        # Know the terminated processes before consuming anything: a fresh engine has heard no broadcast.
        self._refresh_terminated(restore=True)
        threading.Thread(target=self._loader_loop, name="loader", daemon=True).start()
        threading.Thread(target=self._terminated_loop, name="terminated", daemon=True).start()
        limits.watch_pauses(self._stopping)  # limiter pauses kept in memory (topology/runtime/limits.py)
        if self.with_recorder:
            self.recorder = Recorder()
            threading.Thread(target=self.recorder.run, name="recorder", daemon=True).start()
        log.info("engine %s starting (topology=%s node=%s)", self.engine_id, self.topology, self.node)
        backoff = Backoff(base=RECONNECT_BASE_SECONDS, cap=RECONNECT_MAX_SECONDS)
        while not self._stopping.is_set():
            self._gen += 1
            self._reset()
            self._ready_once = False
            with self._wake_lock:
                # A wake-up scheduled on the old connection's ioloop may never have run: without this reset no
                # node result would ever reach the new connection (found by the broker-restart chaos scenario).
                self._wake_scheduled = False
            try:
                self._conn = SelectConnection(
                    broker.connection_parameters(),
                    on_open_callback=self._on_connection_open,
                    on_open_error_callback=self._on_connection_open_error,
                    on_close_callback=self._on_connection_closed,
                )
                # A stop() that raced the line above scheduled nothing on this connection: look again.
                if not self._stopping.is_set():
                    self._conn.ioloop.start()
            except (AMQPError, OSError) as exc:
                log.error("connection failed: %s", exc)
            if self._ready_once:
                backoff.reset()
            if self._stopping.is_set():
                break
            delay = backoff.next()
            log.warning("engine %s reconnecting to RabbitMQ in %.1f s", self.engine_id, delay)
            self._stopping.wait(delay)
        if self.recorder is not None:
            self.recorder.stop()
        self.pool.shutdown()
        log.info("engine %s stopped", self.engine_id)

    def stop(self) -> None:
        """Stop consuming, let in-flight inputs finish and be acked (up to the drain time), then close."""
        self._stopping.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.ioloop.add_callback_threadsafe(self._begin_drain)

    def _begin_drain(self) -> None:
        assert self._conn is not None
        if self._channel is None or not self._channel.is_open or not self._conn.is_open:
            # Not connected (connecting, or between a broker close and the reconnect): nothing to drain.
            self._conn.ioloop.stop()
            return
        self._draining = True
        for tag in list(self._consumers.values()):
            self._channel.basic_cancel(tag)
        self._consumers.clear()
        self._drain_deadline = time.monotonic() + DRAIN_SECONDS
        self._check_drained()

    def _check_drained(self) -> None:
        assert self._conn is not None
        idle = self._inflight == 0 and not self._batch and not self._unacked
        if idle or time.monotonic() > self._drain_deadline or not self._conn.is_open:
            if self._conn.is_open:
                self._conn.close()  # the close callback stops the ioloop
            else:
                self._conn.ioloop.stop()
            return
        if self._batch:
            self._flush()
        self._conn.ioloop.call_later(0.05, self._check_drained)

    def _on_connection_open(self, conn: SelectConnection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_connection_open_error(self, conn: SelectConnection, error: BaseException | str) -> None:
        # Without stopping the ioloop here, run() never gets back to its reconnect loop (issue 14).
        log.error("cannot connect to RabbitMQ: %s", error)
        conn.ioloop.stop()

    def _on_connection_closed(self, conn: SelectConnection, reason: Exception) -> None:
        if not self._stopping.is_set():
            log.warning("connection closed: %s", reason)
        conn.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm)
        broker.declare_infrastructure(channel)
        channel.queue_declare(queue="", exclusive=True, auto_delete=True, callback=self._on_control_queue)

    def _on_channel_closed(self, channel: Any, reason: Exception) -> None:
        log.warning("channel closed: %s", reason)
        if self._conn is not None and self._conn.is_open:
            self._conn.close()

    def _on_control_queue(self, frame: Any) -> None:
        queue = frame.method.queue
        self._channel.queue_bind(queue=queue, exchange=names.control_exchange(), routing_key="")
        self._channel.basic_consume(queue=queue, on_message_callback=self._on_control, auto_ack=True)
        # Only now, with the infrastructure declared, does the connection count as up: a channel the broker closes
        # right after opening (a declare refused) keeps the reconnect backoff growing instead of spinning.
        self._ready_once = True
        if self.runtime.versions:
            # Reconnected: consume again at once from the picture we have, even if the database is unreachable;
            # the reload below refreshes it.
            self._apply_runtime(self.runtime)
        self._reload.set()

    # ------------------------------------------------------------------------------------------ control

    def _on_control(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            return
        kind = message.get("type")
        if kind == "reload":
            self._reload.set()
        elif kind == "terminate" and message.get("correlation_id"):
            corr = str(message["correlation_id"])
            self._terminated_broadcast = self._terminated_broadcast | {corr}
            self.terminated = self.terminated | {corr}
        elif kind == "pause":
            limits.pause_heard(message)

    def _loader_loop(self) -> None:
        while not self._stopping.is_set():
            self._reload.wait(RELOAD_EVERY_SECONDS)
            self._reload.clear()
            if self._stopping.is_set():
                return
            try:
                runtime = load_runtime(topology=self.topology, node=self.node)
            except Exception:
                log.exception("loading topologies failed")
                time.sleep(1)
                self._reload.set()
                continue
            finally:
                close_old_connections()
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.ioloop.add_callback_threadsafe(functools.partial(self._apply_runtime, runtime))

    def _terminated_loop(self) -> None:
        # Redis twice a second (shared by all engines); the database, the record, every 30 s so a terminate that
        # could not reach Redis still stops its messages. Unreachable state keeps the last known set.
        last_restore = time.monotonic()
        while not self._stopping.wait(TERMINATED_REFRESH_SECONDS):
            restore = time.monotonic() - last_restore > TERMINATED_RESTORE_SECONDS
            if restore:
                last_restore = time.monotonic()
            self._refresh_terminated(restore=restore)

    def _refresh_terminated(self, *, restore: bool) -> None:
        fresh = self.terminated
        if restore:
            try:
                fresh = fresh | state.terminated_restore()
            except Exception as exc:
                log.warning("cannot read terminated processes from the database: %s", exc)
        try:
            fresh = state.terminated_all() | (fresh if restore else frozenset())
        except Exception as exc:
            log.warning("cannot read terminated processes: %s", exc)
        self.terminated = fresh | self._terminated_broadcast

    def _apply_runtime(self, runtime: RuntimeSpec) -> None:
        """Swap in the new picture; declare and consume new queues, cancel queues no longer wanted."""
        if self._draining:
            return
        self.runtime = runtime
        if self._channel is None or not self._channel.is_open:
            return  # applied when the channel (re)opens
        wanted = set(runtime.consume) - self._limiter_paused
        needed = sum(runtime.by_queue[q].effective_prefetch for q in wanted)
        self._resize_pool(needed)
        for queue in sorted(wanted - set(self._consumers)):
            node = runtime.by_queue[queue]
            self._channel.queue_declare(queue=queue, durable=True, arguments=node.queue_arguments())
            self._channel.queue_bind(queue=queue, exchange=names.exchange(), routing_key=queue)
            # basic.qos without global applies to consumers created after it: one prefetch per node.
            self._channel.basic_qos(prefetch_count=delivery_window(node))
            tag = self._channel.basic_consume(queue=queue, on_message_callback=self._on_message)
            self._consumers[queue] = tag
            self._queue_of_tag[tag] = queue
        for queue in set(self._consumers) - wanted:
            self._channel.basic_cancel(self._consumers.pop(queue))
        log.info(
            "engine %s consumes %d queues of %d versions", self.engine_id, len(self._consumers), len(runtime.versions)
        )

    def _resize_pool(self, needed: int) -> None:
        self.pool.grow(max(4, min(int(os.environ.get("FLOWYARD_ENGINE_MAX_THREADS", "128")), needed)))

    # ------------------------------------------------------------------------------------------ hot path

    def _on_message(self, channel: Any, method: Any, props: Any, body: bytes) -> None:
        tag = method.delivery_tag
        self._unacked.append(tag)
        node = self.runtime.by_queue.get(self._queue_of_tag.get(method.consumer_tag, ""))
        if node is None or self._draining:
            self._requeue_tag(tag)
            return
        headers = h.normalise(props.headers)
        mid = props.message_id or h.derived_id(method.routing_key, body)
        job = Job(self._gen, tag, node, headers, body, mid, bool(method.redelivered))
        if h.START_RUNS in headers:
            job.carried = decode_runs(headers.pop(h.START_RUNS))
            for run in job.carried:
                run.carried = True
        started = time.time()
        if headers.get(h.CORRELATION_ID, "") in self.terminated:
            outcome = Outcome(code=TERMINATED, message="process terminated")
            job.step = outcome_step(node, headers, mid, outcome, started=started, redelivered=job.redelivered)
            self._finish(job)
            return
        job.deliveries = delivery_count(props)
        if job.redelivered and job.deliveries >= self.delivery_limit:
            # Poison: the message went out this often and was never acked (it kills engines): trash, don't run.
            outcome = poisoned(node, headers, body, mid, job.deliveries)
            job.step = outcome_step(node, headers, mid, outcome, started=started, redelivered=True)
            self._finish(job)
            return
        hop = redelay(self.runtime, node, headers, body, mid)
        if hop is not None:
            job.step = outcome_step(node, headers, mid, hop, started=started, redelivered=job.redelivered)
            self._finish(job)
            return
        self._inflight += 1
        if node.kind in INLINE_KINDS:
            # Built-in kinds only compute over the message: a round trip through the pool costs more.
            job.step = self._run(job, self.runtime)
            self._on_result(job)
            return
        self._submit(job)

    def _submit(self, job: Job) -> None:
        """Run the job in the pool when its node has a free slot, else queue it for the next free one."""
        node = job.node
        key = (node.version.id, node.key)
        running = self._running.get(key, 0)
        if running >= node.effective_prefetch:
            self._waiting.setdefault(key, deque()).append(job)
            return
        self._running[key] = running + 1
        job.slot = key
        self.pool.submit(self._work, job, self.runtime)

    def _release(self, job: Job) -> None:
        key, job.slot = job.slot, None
        if key is None:
            return
        self._running[key] -= 1
        waiting = self._waiting.get(key)
        if waiting:
            self._submit(waiting.popleft())

    @staticmethod
    def _run(job: Job, runtime: RuntimeSpec) -> Step:
        return run_step(runtime, job.node, job.headers, job.body, job.message_id, redelivered=job.redelivered)

    def _work(self, job: Job, runtime: RuntimeSpec) -> None:
        """Node thread: run the step (or trash a poison message), queue it for the connection thread, wake that
        thread once per burst."""
        if job.redelivered and self._poisoned(job):
            outcome = poisoned(job.node, job.headers, job.body, job.message_id, self.delivery_limit)
            job.step = outcome_step(
                job.node, job.headers, job.message_id, outcome, started=time.time(), redelivered=True
            )
        else:
            job.step = self._run(job, runtime)
        conn = self._conn
        if conn is None:
            return
        self._results.put(job)
        with self._wake_lock:
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        try:
            conn.ioloop.add_callback_threadsafe(self._drain_results)
        except Exception:
            # The connection is gone: the broker redelivers the inputs to another consumer.
            with self._wake_lock:
                self._wake_scheduled = False
            log.debug("dropping result of %s: connection closed", job.message_id)

    def _poisoned(self, job: Job) -> bool:
        """Pool thread, redeliveries only: has this message id killed engines `delivery_limit` times?

        The broker counts per copy; when a crash also loses the upstream input's ack, the upstream runs again and
        publishes a fresh copy (same message id, count 0). A Redis counter per message id spans the copies.
        """
        count = job.deliveries
        try:
            count = max(count, state.redeliveries_incr(job.message_id))
        except Exception as exc:  # Redis down: the broker's count still bounds the crashes
            log.warning("cannot count redeliveries of %s: %s", job.message_id, exc)
        return count >= self.delivery_limit

    def _drain_results(self) -> None:
        # Clear the flag before draining: a result queued after this point schedules a new drain.
        with self._wake_lock:
            self._wake_scheduled = False
        while True:
            try:
                job = self._results.get_nowait()
            except Empty:
                return
            self._on_result(job)

    def _on_result(self, job: Job) -> None:
        if job.gen != self._gen:
            return
        self._inflight -= 1
        self._release(job)
        step = job.step
        assert step is not None and self._conn is not None
        # --- limiter (topology/runtime/limits.py): Redis down stops this node's intake; a held run resumes it
        if step.limiter_down:
            self._limiter_paused.update(job.node.queues())
            self._apply_runtime(self.runtime)
        elif self._limiter_paused.intersection(job.node.queues()):
            self._limiter_paused.difference_update(job.node.queues())
            self._apply_runtime(self.runtime)
        # --- end limiter
        if step.hold_ms is not None:
            # Keep the input unacked and run it again later: an ordered node so nothing overtakes it, a short
            # limiter wait because it is below the smallest delay tier.
            job.headers = step.hold_headers or job.headers
            self._inflight += 1
            delay = step.hold_ms / 1000 if step.hold_until is None else max(0.0, step.hold_until - time.monotonic())
            self._conn.ioloop.call_later(delay, functools.partial(self._resubmit, job))
            return
        self._finish(job)

    def _resubmit(self, job: Job) -> None:
        self._inflight -= 1
        if job.gen == self._gen and not self._draining:
            self._inflight += 1
            self._submit(job)

    def _finish(self, job: Job) -> None:
        self._batch.append(job)
        if (
            self._events_unconfirmed == 0
            or self._inflight == 0
            or job.node.effective_prefetch == 1
            or len(self._batch) >= MAX_BATCH_RECORDS
        ):
            # Nagle-style batching: publish at once when no event batch awaits its confirm; otherwise results
            # gather while it is in flight and go out when it is confirmed. Waiting for a timer instead would cap
            # each node at prefetch / flush interval messages per second.
            self._flush()
        elif self._flush_timer is None and self._conn is not None:
            self._flush_timer = self._conn.ioloop.call_later(self.flush_seconds, self._flush)

    def _flush(self) -> None:
        """Publish the batched jobs' runs as one event batch and, right behind it, their outputs.

        Both go out together (no wait for the batch's confirm first); a job's input is acked once its outputs
        and the batch are confirmed. The recorder counts a run only after the run that emitted its message.
        """
        if self._flush_timer is not None and self._conn is not None:
            self._conn.ioloop.remove_timeout(self._flush_timer)
        self._flush_timer = None
        if not self._batch or self._channel is None or not self._channel.is_open:
            return
        jobs, self._batch = self._batch, []
        runs: list[NodeRun] = []
        for job in jobs:
            assert job.step is not None
            if job.carried:
                runs.extend(job.carried)
            runs.extend(job.step.runs)
            job.pending = 1 + len(job.step.outputs)  # the event batch and each output
        self._events_unconfirmed += 1
        self._publish(
            names.events_exchange(),
            "",
            EventBatch(engine=self.engine_id, runs=runs).encode(),
            pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            on_ack=functools.partial(self._events_confirmed, jobs),
            on_nack=functools.partial(self._events_refused, jobs),
        )
        for job in jobs:
            assert job.step is not None
            for out in job.step.outputs:
                self._publish(
                    out.exchange,
                    out.routing_key,
                    out.body,
                    broker.properties(headers=out.headers, message_id=out.message_id),
                    on_ack=functools.partial(self._output_confirmed, job),
                    on_nack=functools.partial(self._requeue_jobs, [job]),
                )

    def _events_settled(self) -> None:
        self._events_unconfirmed -= 1
        if self._batch and self._events_unconfirmed == 0:
            self._flush()

    def _events_refused(self, jobs: list[Job]) -> None:
        self._requeue_jobs(jobs)
        self._events_settled()

    def _events_confirmed(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._output_confirmed(job)
        self._events_settled()

    def _output_confirmed(self, job: Job) -> None:
        job.pending -= 1
        if job.pending == 0 and not job.settled:
            self._ready.add(job.tag)

    def _requeue_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            if not job.settled:
                job.settled = True
                self._ready.discard(job.tag)
                self._requeue_tag(job.tag)

    def _requeue_tag(self, tag: int) -> None:
        with contextlib.suppress(ValueError):
            self._unacked.remove(tag)
        if self._channel is not None and self._channel.is_open:
            self._channel.basic_nack(delivery_tag=tag, requeue=True)

    def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        props: pika.BasicProperties,
        *,
        on_ack: Callable[[], None],
        on_nack: Callable[[], None],
    ) -> None:
        self._channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body, properties=props)
        self._confirms.published(on_ack, on_nack)

    def _on_confirm(self, frame: Any) -> None:
        self._confirms.on_frame(frame)
        self._settle()

    def _settle(self) -> None:
        """Ack every ready input: the contiguous oldest ones with one multiple ack, stragglers one by one."""
        if not self._ready or self._channel is None or not self._channel.is_open:
            return
        last = None
        while self._unacked and self._unacked[0] in self._ready:
            last = self._unacked.popleft()
            self._ready.discard(last)
        if last is not None:
            self._channel.basic_ack(delivery_tag=last, multiple=True)
        for tag in self._ready:
            self._channel.basic_ack(delivery_tag=tag)
            with contextlib.suppress(ValueError):
                self._unacked.remove(tag)
        self._ready.clear()
