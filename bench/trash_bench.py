"""Trash bulk resend (issue 10): BENCH_TRASH_MESSAGES (default 10,000) open trash rows resent by one Celery worker
(solo pool) without a throttle; messages/s of the job and the worker's RSS growth (peak during the job minus the
reading after a warm-up job), read from /proc. An engine consumes the resent messages meanwhile, as in production."""

from __future__ import annotations

import json
import time

from bench import djangoenv
from bench import flowyard_support as fy
from bench.common import PYTHON, BenchResult, children, consumer_count, env_float, env_int, rss_kb

TARGET_RATE = 500.0
TARGET_RSS_MB = 100.0
WARMUP = 200


def _trash_rows(bench: fy.Bench, count: int) -> tuple[list[int], list[int]]:
    """Open trash rows at the no-op node, each with its failed process, as the recorder would leave them."""
    from django.utils import timezone

    from processes.models import Process
    from topology.runtime import headers as h
    from trash.models import TrashMessage
    from trash.services import trash_signature

    version = bench.version
    node = version.nodes.get(key="Noop")
    reason = "HTTP 422 from shop: email is invalid"
    signature = trash_signature(reason=reason, node_key=node.key)
    ids: list[int] = []
    process_ids: list[int] = []
    for first in range(0, count, 2_000):
        now = timezone.now()
        processes = Process.objects.bulk_create(
            Process(
                tenant_id=bench.tenant.pk,
                version=version,
                correlation_id=h.new_id(),
                status=Process.Status.FAILED,
                started_at=now,
                finished_at=now,
                total=2,
                done=2,
                trashed=1,
            )
            for _ in range(min(2_000, count - first))
        )
        rows = TrashMessage.objects.bulk_create(
            TrashMessage(
                tenant_id=bench.tenant.pk,
                version=version,
                node=node,
                node_key=node.key,
                correlation_id=p.correlation_id,
                process_id=p.correlation_id,
                message_id=h.new_id(),
                headers=h.start_headers(
                    correlation_id=p.correlation_id,
                    tenant_id=bench.tenant.pk,
                    topology_id=version.topology_id,
                    version=version.number,
                    node_key=node.key,
                ),
                body=json.dumps({"n": first + i, "email": "a@example.com", "pad": "x" * 200}),
                reason=reason,
                signature=signature,
            )
            for i, p in enumerate(processes)
        )
        ids.extend(r.pk for r in rows)
        process_ids.extend(p.pk for p in processes)
    return ids, process_ids


def _run_job(bench: fy.Bench, ids: list[int], *, timeout: float, on_poll: object = None) -> object:
    from trash.models import TrashBulkJob, TrashMessage
    from trash.services import trash_bulk_job_create

    job = trash_bulk_job_create(
        tenant=bench.tenant,
        actor=bench.user,
        action=TrashBulkJob.Action.RESEND,
        messages=TrashMessage.objects.filter(pk__in=ids),
        group_key=f"bench-{ids[0]}",
        throttle=0,
    )
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if callable(on_poll):
            on_poll()
        if not job.is_active:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bulk job did not finish within {timeout:.0f}s: {job.processed}/{job.total}")
        time.sleep(0.2)


def run() -> BenchResult:
    result = BenchResult("trash")
    count = env_int("BENCH_TRASH_MESSAGES", 10_000)
    timeout = env_float("BENCH_TRASH_TIMEOUT", 300)
    bench = None
    try:
        bench = fy.chain_topology(
            "Bench trash",
            [{"id": "Noop", "kind": "python", "name": "No-op", "registry": "flowyard.noop", "prefetch": 100}],
        )
        import os

        queue = os.environ["CELERY_QUEUE"]
        with children() as procs:
            fy.start_engine(procs, bench, log_name="trash-engine")
            worker = procs.start(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "admin_ui",
                    "worker",
                    "-Q",
                    queue,
                    "--pool=solo",
                    "-n",
                    f"{queue}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "WARNING",
                ],
                log_name="trash-celery-worker",
            )
            deadline = time.monotonic() + 60
            while consumer_count(queue) < 1:
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Celery worker did not start; see bench/results/trash-celery-worker.log")
                time.sleep(0.3)
            warm = _run_job(bench, _trash_rows(bench, WARMUP)[0], timeout=60)
            if getattr(warm, "status", "") != "done":
                raise RuntimeError(
                    f"the warm-up job ended {getattr(warm, 'status', '?')}: {getattr(warm, 'report', '')}"
                )
            ids, process_ids = _trash_rows(bench, count)
            time.sleep(1)
            before = rss_kb(worker.pid)
            samples: list[int] = []

            def sample() -> None:
                value = rss_kb(worker.pid)
                if value:
                    samples.append(value)

            job = _run_job(bench, ids, timeout=timeout, on_poll=sample)
            seconds = float(job.report.get("seconds") or 0)  # type: ignore[attr-defined]
            rate = job.succeeded / seconds if seconds else 0.0  # type: ignore[attr-defined]
            peak = max(samples, default=before or 0)
            result.add("bulk resend rate", rate, "msgs/s", target=TARGET_RATE)
            if before:
                result.add(
                    "worker rss growth", (peak - before) / 1024, "MB", target=TARGET_RSS_MB, higher_is_better=False
                )
            result.details.update(
                {
                    "messages": count,
                    "resent": job.succeeded,  # type: ignore[attr-defined]
                    "skipped": job.skipped,  # type: ignore[attr-defined]
                    "failed": job.failed,  # type: ignore[attr-defined]
                    "job_seconds": seconds,
                    "worker_rss_mb_before": round((before or 0) / 1024, 1),
                    "worker_rss_mb_peak": round(peak / 1024, 1),
                }
            )
            if job.status != "done" or job.succeeded != count:  # type: ignore[attr-defined]
                result.error = f"job {job.status}: {job.succeeded}/{count} resent"  # type: ignore[attr-defined]
            drained = fy.wait_finished(process_ids, timeout=timeout)
            result.details["processes_finished"] = drained.done
            result.details["processes_succeeded"] = drained.success
    finally:
        fy.disable_and_clean(bench)
    return result


if __name__ == "__main__":
    djangoenv.configure()
    print(run())
