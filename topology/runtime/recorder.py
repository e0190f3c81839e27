"""The recorder: turns engines' event batches into Process, ProcessEvent, NodeStat and TrashMessage rows in bulk.

Its queue has a single active consumer, so batches are applied in publish order by one recorder at a time
(any number of engines may run one; the others stand by). Duplicates are recognised by message id: a
redelivered input's run is counted once, the repeats only bump `Process.duplicates`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections import defaultdict
from typing import Any

import pika
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from pika.exceptions import AMQPError

from processes.depths import DepthSampler
from topology.runtime import broker, names
from topology.runtime.backoff import Backoff, backoff_seconds

log = logging.getLogger("flowyard.recorder")

BATCH_MESSAGES = 200
IDLE_SECONDS = 0.05


def record_batches(payloads: list[dict[str, Any]]) -> None:
    """Apply several engine batches in one transaction (order matters: emissions before consumptions)."""
    from processes.models import Process, ProcessEvent

    records = [r for p in payloads for r in p.get("records", [])]
    if not records:
        return
    corrs: set[str] = set()
    for record in records:
        corrs.add(record["corr"])
        corrs.update(record.get("e", {}))
    with transaction.atomic():
        for record in records:
            for start in record.get("st") or []:
                Process.objects.get_or_create(
                    correlation_id=start["corr"],
                    defaults={
                        "tenant_id": start["tenant"],
                        "version_id": start["version"],
                        "started_at": timezone.now(),
                        "total": 0,
                    },
                )
        processes = {p.correlation_id: p for p in Process.objects.filter(correlation_id__in=corrs)}
        by_process_mids: dict[int, set[str]] = defaultdict(set)
        for record in records:
            process = processes.get(record["corr"])
            if process is not None:
                by_process_mids[process.pk].add(record["mid"])
        seen: set[tuple[int, str]] = set()
        if by_process_mids:
            all_mids = {mid for mids in by_process_mids.values() for mid in mids}
            seen = set(
                ProcessEvent.objects.filter(
                    process_id__in=list(by_process_mids), message_id__in=list(all_mids)
                ).values_list("process_id", "message_id")
            )
        events: list[tuple[Any, ...]] = []
        stats: dict[tuple[int, dt.datetime], list[float]] = {}
        trash: list[dict[str, Any]] = []
        kept: list[tuple[int, str, str, dict[str, Any]]] = []  # payloads of keepPayload nodes only
        # Per process: [total, done, failed, trashed, duplicates] increments of this batch.
        deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        for record in records:
            process = processes.get(record["corr"])
            if process is None:
                continue  # the process row is gone (deleted tenant, test teardown): nothing to count
            key = (process.pk, record["mid"])
            delta = deltas[process.pk]
            if key in seen:
                delta[4] += 1
                continue
            seen.add(key)
            delta[1] += 1
            if record.get("f"):
                delta[2] += 1
            if record.get("tr"):
                delta[3] += 1
                trash.append(record["tr"])
            for corr, count in (record.get("e") or {}).items():
                target = processes.get(corr)
                if target is not None:
                    deltas[target.pk][0] += int(count)
            started = dt.datetime.fromtimestamp(float(record["s"]), tz=dt.UTC)
            emitted = sum(int(c) for c in (record.get("e") or {}).values())
            if record.get("p"):
                kept.append((process.pk, record["n"], record["mid"], record["p"]))
            events.append(
                (
                    process.pk,
                    record["n"],
                    record["mid"],
                    int(record["c"]),
                    record.get("m", ""),
                    started,
                    float(record.get("ms", 0)),
                    emitted,
                )
            )
            minute = started.replace(second=0, microsecond=0)
            stat = stats.setdefault((int(record["nid"]), minute), [0, 0, 0, 0.0, 0.0])
            stat[0] += 1
            stat[1] += 1 if record.get("f") else 0
            stat[2] += 1 if record.get("tr") else 0
            stat[3] += float(record.get("ms", 0))
            stat[4] = max(stat[4], float(record.get("ms", 0)))
        _insert_events(events)
        _apply_process_deltas(deltas)
        _write_stats(stats)
        _write_trash(trash)
        _write_payloads(kept)
    # --- live monitoring hook (processes/events.py): after the commit, mark the batch's topologies as changed;
    # the sender coalesces and sends from its own thread, so this costs a set insert.
    from processes import events as live

    live.versions_changed(version_ids={p.version_id for p in processes.values()})
    # --- end of live monitoring hook


def _insert_events(events: list[tuple[Any, ...]]) -> None:
    """Insert timeline rows with one prepared statement; model instances per row cost more than the write."""
    from processes.models import ProcessEvent

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


def _apply_process_deltas(deltas: dict[int, list[int]]) -> None:
    """Add the batch's counts with one prepared UPDATE per row, then finish the processes whose count closed.

    Plain increments through executemany cost a fraction of Django's bulk_update (a CASE per field and row),
    which dominated the recorder's CPU time under load.
    """
    from processes.models import Process

    if not deltas:
        return
    table = connection.ops.quote_name(Process._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET total = total + %s, done = done + %s, failed = failed + %s, "
            "trashed = trashed + %s, duplicates = duplicates + %s WHERE id = %s",
            [(*delta, pk) for pk, delta in deltas.items()],
        )
    finished = Process.objects.filter(
        pk__in=list(deltas), status=Process.Status.IN_PROGRESS, total__gt=0, done__gte=F("total")
    )
    # Status is written only where it is still in progress so a concurrent terminate is never undone.
    now = timezone.now()
    finished.filter(trashed__gt=0).update(status=Process.Status.FAILED, finished_at=now)
    finished.filter(trashed=0).update(status=Process.Status.SUCCESS, finished_at=now)


def _write_stats(stats: dict[tuple[int, dt.datetime], list[float]]) -> None:
    from processes.models import NodeStat
    from topology.models import Node

    if not stats:
        return
    node_ids = set(Node.objects.filter(pk__in={k[0] for k in stats}).values_list("pk", flat=True))
    existing = {
        (s.node_id, s.minute): s
        for s in NodeStat.objects.filter(node_id__in=node_ids, minute__in={k[1] for k in stats})
    }
    create, update = [], []
    for (node_id, minute), (processed, failed, trashed, total_ms, max_ms) in stats.items():
        if node_id not in node_ids:
            continue
        row = existing.get((node_id, minute))
        if row is None:
            create.append(
                NodeStat(
                    node_id=node_id,
                    minute=minute,
                    processed=int(processed),
                    failed=int(failed),
                    trashed=int(trashed),
                    duration_ms_sum=total_ms,
                    duration_ms_max=max_ms,
                )
            )
        else:
            row.processed += int(processed)
            row.failed += int(failed)
            row.trashed += int(trashed)
            row.duration_ms_sum += total_ms
            row.duration_ms_max = max(row.duration_ms_max, max_ms)
            update.append(row)
    NodeStat.objects.bulk_create(create)
    NodeStat.objects.bulk_update(update, ["processed", "failed", "trashed", "duration_ms_sum", "duration_ms_max"])


def _write_payloads(payloads: list[tuple[int, str, str, dict[str, Any]]]) -> None:
    """Keep the inputs and outputs of runs of `keepPayload` nodes for the process page."""
    from processes.models import ProcessPayload

    if payloads:
        ProcessPayload.objects.bulk_create(
            ProcessPayload(
                process_id=pk, node_key=key, message_id=mid, body_in=p.get("in", ""), bodies_out=p.get("out", [])
            )
            for pk, key, mid, p in payloads
        )


def _write_trash(records: list[dict[str, Any]]) -> None:
    from topology.models import Node
    from trash.services import trash_message_create

    for record in records:
        node_id = record.get("node")
        if node_id and not Node.objects.filter(pk=node_id).exists():
            continue
        trash_message_create(
            tenant_id=record["tenant"],
            version_id=record["version"],
            node_id=node_id,
            node_key=record["node_key"],
            correlation_id=record["corr"],
            process_id=record.get("process_id", ""),
            message_id=record["mid"],
            headers=record.get("headers") or {},
            body=record.get("body", ""),
            reason=record["reason"],
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
        connection = pika.BlockingConnection(broker.connection_parameters())
        try:
            channel = connection.channel()
            broker.declare_infrastructure(channel)
            channel.basic_qos(prefetch_count=BATCH_MESSAGES)
            self._consumed = True
            pending: list[tuple[int, dict[str, Any]]] = []
            for method, _props, body in channel.consume(names.events_queue(), inactivity_timeout=IDLE_SECONDS):
                if self._stopping.is_set():
                    break
                if method is not None:
                    try:
                        pending.append((method.delivery_tag, json.loads(body)))
                    except ValueError:
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

    def _write(self, channel: Any, pending: list[tuple[int, dict[str, Any]]]) -> None:
        """Record, then ack; on failure keep retrying with backoff, since a dropped batch would leave its
        processes unfinished forever. When stopping, hand the batches back to the queue instead."""
        attempt = 0
        while True:
            try:
                record_batches([payload for _, payload in pending])
                break
            except Exception:
                attempt += 1
                log.exception("recording %d batches failed (attempt %d)", len(pending), attempt)
                close_old_connections()
                if self._stopping.wait(backoff_seconds(attempt - 1, base=0.5, cap=5.0, rand=random.random())):
                    channel.basic_nack(pending[-1][0], multiple=True, requeue=True)
                    return
        channel.basic_ack(pending[-1][0], multiple=True)
