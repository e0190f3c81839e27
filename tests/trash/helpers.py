"""Trash test helpers: rows shaped like the recorder writes them, without running the failures first."""

from __future__ import annotations

import json
import time
from typing import Any

from django.utils import timezone

from processes.models import Process
from topology.models import TopologyVersion
from topology.runtime import headers as h
from trash.models import TrashBulkJob, TrashMessage
from trash.services import trash_signature

REASON = "HTTP 422 from shop: email is invalid"


def trashed_rows(
    version: TopologyVersion, count: int, *, node_key: str = "node", reason: str = REASON, body: Any = None
) -> list[TrashMessage]:
    """`count` failed processes (start ran, `node_key` trashed) and their open trash rows, in bulk."""
    tenant_id = version.topology.tenant_id
    now = timezone.now()
    processes = Process.objects.bulk_create(
        Process(
            tenant_id=tenant_id,
            version=version,
            correlation_id=h.new_id(),
            status=Process.Status.FAILED,
            started_at=now,
            finished_at=now,
            total=2,
            done=2,
            trashed=1,
        )
        for _ in range(count)
    )
    node = version.nodes.filter(key=node_key).first()
    rows = [
        TrashMessage(
            tenant_id=tenant_id,
            version=version,
            node=node,
            node_key=node_key,
            correlation_id=p.correlation_id,
            process_id=p.correlation_id,
            message_id=h.new_id(),
            headers=h.start_headers(
                correlation_id=p.correlation_id,
                tenant_id=tenant_id,
                topology_id=version.topology_id,
                version=version.number,
                node_key=node_key,
            ),
            body=json.dumps(body if body is not None else {"n": i, "email": "bad"}),
            reason=reason,
            signature=trash_signature(reason=reason, node_key=node_key),
        )
        for i, p in enumerate(processes)
    ]
    return TrashMessage.objects.bulk_create(rows)


def wait_job(job: TrashBulkJob, *, timeout: float = 60, worker: Any = None) -> TrashBulkJob:
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if not job.is_active:
            return job
        if time.monotonic() > deadline:
            log = worker.log.read_text(errors="replace")[-3000:] if worker is not None else ""
            raise AssertionError(f"bulk job still {job.status}: {job.processed}/{job.total}\n{log}")
        time.sleep(0.05)


def wait_count(qs: Any, expected: int, *, timeout: float = 60, env: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while (n := qs.count()) != expected:
        assert time.monotonic() < deadline, f"{n} != {expected}\n{env.log_tail() if env else ''}"
        time.sleep(0.1)
