"""The recorder: turns engines' event batches into Process, ProcessEvent, NodeStat and TrashMessage rows in bulk.

The last module of one message's path: `Recorder._consume` reads batches → `record_batches` (creates the
rows of processes started outside the database, counts each run once, writes everything in one transaction)
→ the live-monitoring notice (after commit) → ack.

Its queue has a single active consumer, so batches are applied in publish order by one recorder at a time
(any number of engines may run one; the others stand by). Duplicates are recognised by message id: a
redelivered input's run is counted once, the repeats only bump `Process.duplicates`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pika
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from pika.exceptions import AMQPError

from processes import events as live
from processes.depths import DepthSampler
from processes.models import NodeStat, Process, ProcessEvent, ProcessPayload
from topology.models import Node, TopologyVersion
from topology.runtime import broker, names
from topology.runtime.backoff import Backoff, backoff_seconds
from topology.runtime.events import EventBatch, NodeRun, ProcessStart, TrashRecord
from trash.services import trash_message_create

log = logging.getLogger("flowyard.recorder")

BATCH_MESSAGES = 200
IDLE_SECONDS = 0.05
# A run whose emitting run is still missing goes back to the queue for at most this long, then counts anyway (the
# emitting run's event is lost only if its engine and every redelivery of its input vanished).
MAX_DEFER_SECONDS = 120.0


@dataclass
class Counts:
    """What one recording adds to a process row."""

    total: int = 0
    done: int = 0
    failed: int = 0
    trashed: int = 0
    duplicates: int = 0


@dataclass
class NodeMinute:
    """What one recording adds to a node's stats row for one minute."""

    processed: int = 0
    failed: int = 0
    trashed: int = 0
    duration_ms_sum: float = 0.0
    duration_ms_max: float = 0.0


@dataclass
class Recorded:
    """What one call of `record_batches` changed (the live-monitoring notice reads the versions)."""

    process_ids: set[int] = field(default_factory=set)
    finished_process_ids: set[int] = field(default_factory=set)
    version_ids: set[int] = field(default_factory=set)
    # Runs that came before the run that emitted them: the recorder queues them again, after it.
    deferred: list[NodeRun] = field(default_factory=list)


@dataclass
class Writes:
    """The rows and increments one recording writes, gathered in memory first and then written in bulk."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    counts: dict[int, Counts] = field(default_factory=lambda: defaultdict(Counts))
    stats: dict[tuple[int, dt.datetime], NodeMinute] = field(default_factory=lambda: defaultdict(NodeMinute))
    trash: list[TrashRecord] = field(default_factory=list)
    payloads: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)  # keepPayload nodes only
    deferred: list[NodeRun] = field(default_factory=list)


def record_batches(batches: list[EventBatch]) -> Recorded:
    """Apply several engine batches in one transaction (order matters: emissions before consumptions)."""
    runs = [run for batch in batches for run in batch.runs]
    recorded = Recorded()
    if not runs and not any(batch.starts for batch in batches):
        return recorded
    starts = [start for batch in batches for start in batch.starts]
    starts += [start for run in runs for start in run.starts]
    with transaction.atomic():
        _create_started(starts)
        processes = _processes_of(runs)
        writes = _count(runs, processes, _seen(runs, processes))
        _insert_events(writes.events)
        recorded.finished_process_ids = _apply_process_counts(writes.counts)
        _write_stats(writes.stats)
        _write_trash(writes.trash)
        _write_payloads(writes.payloads)
    recorded.process_ids = set(writes.counts)
    recorded.version_ids = {run.version_id for run in runs}
    recorded.deferred = writes.deferred
    # --- live monitoring hook (processes/events.py): after the commit, mark the batch's topologies as changed;
    # the sender coalesces and sends from its own thread, so this costs a set insert.

    live.versions_changed(version_ids=recorded.version_ids)
    # --- end of live monitoring hook
    return recorded


def _create_started(started: list[ProcessStart]) -> None:
    """Create the rows of started processes that no start service wrote (webhook, REST, event starts)."""

    starts = {start.correlation_id: start for start in started}
    if not starts:
        return
    existing = set(Process.objects.filter(correlation_id__in=list(starts)).values_list("correlation_id", flat=True))
    # A version deleted since the start (its tenant removed) leaves nothing to record into.
    versions = set(
        TopologyVersion.objects.filter(pk__in={s.version_id for s in starts.values()}).values_list("pk", flat=True)
    )
    Process.objects.bulk_create(
        [
            Process(
                correlation_id=start.correlation_id,
                tenant_id=start.tenant_id,
                version_id=start.version_id,
                started_at=dt.datetime.fromtimestamp(start.started_at, tz=dt.UTC),
                total=start.messages,
            )
            for corr, start in starts.items()
            if corr not in existing and start.version_id in versions
        ]
    )


def _processes_of(runs: list[NodeRun]) -> dict[str, Any]:
    """The process rows the runs count into (their own and those they emitted into), by correlation id."""

    corrs: set[str] = set()
    for run in runs:
        corrs.add(run.correlation_id)
        corrs.update(run.emitted)
    return {p.correlation_id: p for p in Process.objects.filter(correlation_id__in=corrs).only("pk", "correlation_id")}


def _seen(runs: list[NodeRun], processes: dict[str, Any]) -> set[tuple[int, str]]:
    """(process id, message id) of the runs already recorded: redeliveries the engine repeated."""

    process_ids = {processes[r.correlation_id].pk for r in runs if r.correlation_id in processes}
    if not process_ids:
        return set()
    message_ids = {r.message_id for r in runs} | {r.emitted_by for r in runs if r.emitted_by}
    return set(
        ProcessEvent.objects.filter(process_id__in=process_ids, message_id__in=message_ids).values_list(
            "process_id", "message_id"
        )
    )


def _count(runs: list[NodeRun], processes: dict[str, Any], seen: set[tuple[int, str]]) -> Writes:
    """Turn the runs into timeline rows, process counts, node stats and trash, each message counted once.

    A run counts only after the run that emitted its message: engines publish a run's event and its outputs
    together, so on a busy broker the next node's event can overtake it, and counting it first could make
    done == total before the emission is counted (a process finished too early). Such a run is deferred.
    """
    writes = Writes()
    for run in runs:
        process = processes.get(run.correlation_id)
        if process is None:
            continue  # the process row is gone (deleted tenant, test teardown): nothing to count
        key = (process.pk, run.message_id)
        if key in seen:
            if not run.carried:  # a start's runs ride on each of its messages: no repeated work
                writes.counts[process.pk].duplicates += 1
            continue
        if run.emitted_by and (process.pk, run.emitted_by) not in seen and not _waited_enough(run):
            writes.deferred.append(run)
            continue
        counts = writes.counts[process.pk]
        seen.add(key)
        counts.done += 1
        counts.failed += int(run.failed)
        if run.trash is not None:
            counts.trashed += 1
            writes.trash.append(run.trash)
        if run.payload:
            writes.payloads.append((process.pk, run.node_key, run.message_id, run.payload))
        for corr, emitted in run.emitted.items():
            target = processes.get(corr)
            if target is not None:
                writes.counts[target.pk].total += emitted
        started = dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC)
        writes.events.append(
            (
                process.pk,
                run.node_key,
                run.message_id,
                run.result_code,
                run.result_message,
                started,
                run.duration_ms,
                run.emitted_total,
            )
        )
        stat = writes.stats[(run.node_id, started.replace(second=0, microsecond=0))]
        stat.processed += 1
        stat.failed += int(run.failed)
        stat.trashed += int(run.trash is not None)
        stat.duration_ms_sum += run.duration_ms
        stat.duration_ms_max = max(stat.duration_ms_max, run.duration_ms)
    return writes


def _waited_enough(run: NodeRun) -> bool:
    if run.deferred_at and time.time() - run.deferred_at > MAX_DEFER_SECONDS:
        log.warning("counting run %s although the run that emitted it never arrived", run.message_id)
        return True
    return False


def _insert_events(events: list[tuple[Any, ...]]) -> None:
    """Insert timeline rows with one prepared statement; model instances per row cost more than the write."""

    if not events:
        return
    table = connection.ops.quote_name(ProcessEvent._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (process_id, node_key, message_id, result_code, result_message, started_at, "
            "duration_ms, emitted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(*row[:5], adapt(row[5]), *row[6:]) for row in events],
        )


def _apply_process_counts(counts: dict[int, Counts]) -> set[int]:
    """Add the counts with one prepared UPDATE per row, finish the processes whose count closed; returns those.

    Plain increments through executemany cost a fraction of Django's bulk_update (a CASE per field and row),
    which dominated the recorder's CPU time under load.
    """

    if not counts:
        return set()
    table = connection.ops.quote_name(Process._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET total = total + %s, done = done + %s, failed = failed + %s, "
            "trashed = trashed + %s, duplicates = duplicates + %s WHERE id = %s",
            [(c.total, c.done, c.failed, c.trashed, c.duplicates, pk) for pk, c in counts.items()],
        )
    finished = Process.objects.filter(
        pk__in=list(counts), status=Process.Status.IN_PROGRESS, total__gt=0, done__gte=F("total")
    )
    finished_ids = set(finished.values_list("pk", flat=True))
    if not finished_ids:
        return finished_ids
    # Status is written only where it is still in progress so a concurrent terminate is never undone.
    now = timezone.now()
    closing = Process.objects.filter(pk__in=finished_ids, status=Process.Status.IN_PROGRESS)
    closing.filter(trashed__gt=0).update(status=Process.Status.FAILED, finished_at=now)
    closing.filter(trashed=0).update(status=Process.Status.SUCCESS, finished_at=now)
    return finished_ids


def _write_stats(stats: dict[tuple[int, dt.datetime], NodeMinute]) -> None:

    if not stats:
        return
    node_ids = set(Node.objects.filter(pk__in={k[0] for k in stats}).values_list("pk", flat=True))
    existing = {
        (s.node_id, s.minute): s
        for s in NodeStat.objects.filter(node_id__in=node_ids, minute__in={k[1] for k in stats})
    }
    create, update = [], []
    for (node_id, minute), add in stats.items():
        if node_id not in node_ids:
            continue
        row = existing.get((node_id, minute))
        if row is None:
            create.append(
                NodeStat(
                    node_id=node_id,
                    minute=minute,
                    processed=add.processed,
                    failed=add.failed,
                    trashed=add.trashed,
                    duration_ms_sum=add.duration_ms_sum,
                    duration_ms_max=add.duration_ms_max,
                )
            )
        else:
            row.processed += add.processed
            row.failed += add.failed
            row.trashed += add.trashed
            row.duration_ms_sum += add.duration_ms_sum
            row.duration_ms_max = max(row.duration_ms_max, add.duration_ms_max)
            update.append(row)
    NodeStat.objects.bulk_create(create)
    NodeStat.objects.bulk_update(update, ["processed", "failed", "trashed", "duration_ms_sum", "duration_ms_max"])


def _write_payloads(payloads: list[tuple[int, str, str, dict[str, Any]]]) -> None:
    """Keep the inputs and outputs of runs of `keepPayload` nodes for the process page."""

    if payloads:
        ProcessPayload.objects.bulk_create(
            ProcessPayload(
                process_id=pk, node_key=key, message_id=mid, body_in=p.get("in", ""), bodies_out=p.get("out", [])
            )
            for pk, key, mid, p in payloads
        )


def _write_trash(records: list[TrashRecord]) -> None:

    for record in records:
        if record.node_id and not Node.objects.filter(pk=record.node_id).exists():
            continue
        trash_message_create(
            tenant_id=record.tenant_id,
            version_id=record.version_id,
            node_id=record.node_id,
            node_key=record.node_key,
            correlation_id=record.correlation_id,
            process_id=record.process_id,
            message_id=record.message_id,
            headers=record.headers,
            body=record.body,
            reason=record.reason,
        )


class Recorder:
    """Consumes the events queue and records batches; runs in the engine or alone (`engine --recorder-only`)."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._consumed = False

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        # Live monitoring: queue depths are sampled by one recorder process per tick (a Redis lease).
        sampler = DepthSampler()
        sampler.start()
        try:
            self._run()
        finally:
            sampler.stop()

    def _run(self) -> None:
        backoff = Backoff(base=0.5, cap=15.0)
        while not self._stopping.is_set():
            self._consumed = False
            try:
                self._consume()
            except (AMQPError, OSError) as exc:
                log.warning("recorder connection lost: %s", exc)
            except Exception:
                log.exception("recorder failed")
            finally:
                close_old_connections()
            if self._consumed:
                backoff.reset()
            if not self._stopping.is_set():
                self._stopping.wait(backoff.next())

    def _consume(self) -> None:
        connection = pika.BlockingConnection(broker.all_connection_parameters())
        try:
            channel = connection.channel()
            channel.confirm_delivery()  # deferred runs are published back and must be confirmed before the ack
            broker.declare_infrastructure(channel)
            channel.basic_qos(prefetch_count=BATCH_MESSAGES)
            self._consumed = True
            pending: list[tuple[int, EventBatch]] = []
            for method, _props, body in channel.consume(names.events_queue(), inactivity_timeout=IDLE_SECONDS):
                if self._stopping.is_set():
                    break
                if method is not None:
                    try:
                        pending.append((method.delivery_tag, EventBatch.decode(body)))
                    except ValueError:
                        log.error("dropping a malformed event batch: %.200r", body)
                        channel.basic_ack(method.delivery_tag)
                    if len(pending) < BATCH_MESSAGES:
                        continue
                if pending:
                    self._write(channel, pending)
                    pending = []
            if pending:
                self._write(channel, pending)
        finally:
            if connection.is_open:
                connection.close()

    def _defer(self, channel: Any, runs: list[NodeRun]) -> None:
        """Queue runs again behind the events that emit them (confirmed before the batch holding them is acked)."""
        now = time.time()
        for run in runs:
            run.deferred_at = run.deferred_at or now
        channel.basic_publish(
            exchange=names.events_exchange(),
            routing_key="",
            body=EventBatch(engine="recorder", runs=runs).encode(),
            properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )

    def _write(self, channel: Any, pending: list[tuple[int, EventBatch]]) -> None:
        """Record, then ack; on failure keep retrying with backoff, since a dropped batch would leave its
        processes unfinished forever. When stopping, hand the batches back to the queue instead."""
        attempt = 0
        while True:
            try:
                recorded = record_batches([batch for _, batch in pending])
                break
            except Exception:
                attempt += 1
                log.exception("recording %d batches failed (attempt %d)", len(pending), attempt)
                close_old_connections()
                if self._stopping.wait(backoff_seconds(attempt - 1, base=0.5, cap=5.0, rand=random.random())):
                    channel.basic_nack(pending[-1][0], multiple=True, requeue=True)
                    return
        if recorded.deferred:
            # A broker error here reconnects; the batches come back and their recorded runs count as duplicates.
            self._defer(channel, recorded.deferred)
        channel.basic_ack(pending[-1][0], multiple=True)
