"""Bulk jobs through a real Celery worker subprocess, engine and RabbitMQ: throttle, live progress, cancel,
skipping rows changed meanwhile, patch, reject, and one active job per tenant and group."""

from __future__ import annotations

import json
import time

import pytest

from processes.models import Process
from tests.topology.runtime.harness import wait_process
from tests.topology.runtime_factories import make_runtime_version
from tests.trash.helpers import trashed_rows, wait_count, wait_job
from topology.runtime.spec import build_version
from trash import services
from trash.models import TrashBulkJob, TrashEdit, TrashMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flow(tenant_a, runtime):
    """start → node (passes) → end, enabled, consumed by the module's engine."""
    version = make_runtime_version(
        tenant_a,
        {"start": "start.manual", "node": ("python", {"registry": "flowyard.noop"}), "end": "end"},
        ["start>node", "node>end"],
    )
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), timeout=60)
    return version


def start_job(tenant, actor, action="resend", **kwargs):
    rows = kwargs.pop("rows")
    qs = TrashMessage.objects.filter(pk__in=[r.pk for r in rows])
    return services.trash_bulk_job_create(
        tenant=tenant, actor=actor, action=action, messages=qs, group_key=rows[0].signature, **kwargs
    )


def test_bulk_resend_of_500_at_100_per_second(tenant_a, alice, flow, runtime, celery_worker):
    rows = trashed_rows(flow, 500)
    job = start_job(tenant_a, alice, rows=rows, throttle=100)
    seen: set[int] = set()
    while True:
        job.refresh_from_db()
        seen.add(job.processed)
        if not job.is_active:
            break
        time.sleep(0.1)
    assert job.status == TrashBulkJob.Status.DONE, job.report
    assert (job.processed, job.succeeded, job.skipped, job.failed, job.percent) == (500, 500, 0, 0, 100)
    assert 5.0 <= job.report["seconds"] < 15, "the throttle paces the job, and the job keeps up with it"
    assert (job.finished_at - job.started_at).total_seconds() >= 5.0
    assert len([n for n in seen if 0 < n < 500]) >= 5, f"progress was not live: {sorted(seen)}"
    corrs = [r.correlation_id for r in rows]
    wait_count(Process.objects.filter(correlation_id__in=corrs, status=Process.Status.SUCCESS), 500, env=runtime)
    assert TrashMessage.objects.filter(pk__in=[r.pk for r in rows], status="resent").count() == 500
    assert TrashEdit.objects.filter(bulk_job=job, action=TrashEdit.Action.RESEND).count() == 500


def test_cancel_midway_leaves_the_rest_untouched_and_reported(tenant_a, alice, flow, celery_worker):
    rows = trashed_rows(flow, 300)
    job = start_job(tenant_a, alice, rows=rows, throttle=50)
    while job.processed < 50:
        job.refresh_from_db()
        assert job.is_active, job.report
        time.sleep(0.05)
    services.trash_bulk_job_cancel(job=job, actor=alice)
    job = wait_job(job, worker=celery_worker)
    assert job.status == TrashBulkJob.Status.CANCELLED
    untouched = job.report["untouched"]
    assert 0 < untouched < 250
    assert job.processed + untouched == 300
    ids = [r.pk for r in rows]
    assert TrashMessage.objects.filter(pk__in=ids, status="resent").count() == job.succeeded == job.processed
    still_open = TrashMessage.objects.filter(pk__in=ids, status="open")
    assert still_open.count() == untouched
    assert set(still_open.values_list("revision", flat=True)) == {1}


def test_a_concurrent_single_edit_is_skipped_by_the_bulk_job(tenant_a, alice, bob, flow, celery_worker):
    rows = trashed_rows(flow, 100)
    job = start_job(tenant_a, alice, rows=rows, throttle=50)
    last = rows[-1]  # the job works in id order: the last row is reached after ~2 s
    services.trash_message_edit(message=last, actor=alice, body=json.dumps({"fixed": "by hand"}))
    job = wait_job(job, worker=celery_worker)
    assert job.status == TrashBulkJob.Status.DONE
    assert (job.succeeded, job.skipped) == (99, 1)
    assert job.report["skipped"] == [{"id": last.pk, "reason": "changed meanwhile (now open)"}]
    last.refresh_from_db()
    assert last.status == TrashMessage.Status.OPEN
    assert json.loads(last.body) == {"fixed": "by hand"}


def test_patch_and_resend_sets_the_value_in_every_body(tenant_a, alice, flow, runtime, celery_worker):
    rows = trashed_rows(flow, 20)
    job = start_job(
        tenant_a, alice, action="patch_resend", rows=rows, patch=[{"op": "set", "path": "email", "value": "a@b.c"}]
    )
    job = wait_job(job, worker=celery_worker)
    assert (job.status, job.succeeded) == (TrashBulkJob.Status.DONE, 20)
    bodies = [
        json.loads(b) for b in TrashMessage.objects.filter(pk__in=[r.pk for r in rows]).values_list("body", flat=True)
    ]
    assert all(b["email"] == "a@b.c" for b in bodies)
    wait_process(rows[0].correlation_id, env=runtime)
    edit = TrashEdit.objects.filter(bulk_job=job).first()
    assert edit.diff == [{"path": "$.body.email", "op": "replace", "before": "bad", "after": "a@b.c"}]


def test_bulk_reject_and_one_active_job_per_group(tenant_a, alice, flow, celery_worker):
    rows = trashed_rows(flow, 30)
    job = start_job(tenant_a, alice, action="reject", rows=rows, reason="duplicates", throttle=20)
    with pytest.raises(services.TrashError, match="already running"):
        start_job(tenant_a, alice, rows=rows)
    job = wait_job(job, worker=celery_worker)
    assert (job.status, job.succeeded) == (TrashBulkJob.Status.DONE, 30)
    assert TrashMessage.objects.filter(pk__in=[r.pk for r in rows], status="rejected").count() == 30
    assert TrashEdit.objects.filter(bulk_job=job, action="reject", note="duplicates").count() == 30
    with pytest.raises(services.TrashError, match="No open messages"):
        start_job(tenant_a, alice, rows=rows)
