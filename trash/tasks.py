"""Celery tasks of the trash (adapters: ids in, one service call): bulk jobs and retention."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings


@shared_task(bind=True, ignore_result=True)
def trash_bulk_run(self: Any, job_id: int) -> str | None:
    """Run one bulk resend/reject/patch job to the end (or until cancelled)."""
    from trash.services import trash_bulk_job_run

    # Acks are late: a redelivered task means the worker that ran it died, so the job resumes.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    job = trash_bulk_job_run(job_id=job_id, resume=redelivered)
    return job.status if job is not None else None


@shared_task(ignore_result=True)
def trash_retention(days: int | None = None) -> int:
    """Purge resent and rejected messages older than FLOWYARD_TRASH_RETENTION_DAYS (beat runs this daily)."""
    from trash.services import trash_retention_purge

    return trash_retention_purge(days=settings.FLOWYARD_TRASH_RETENTION_DAYS if days is None else days)
