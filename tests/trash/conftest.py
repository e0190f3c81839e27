"""Trash fixtures: an engine subprocess with broker names of its own, a stub HTTP server, and a real Celery worker
subprocess on a queue of its own (bulk jobs)."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.topology.runtime.harness import ROOT, RuntimeEnv, Stub, celery_worker_argv


@pytest.fixture(scope="module")
def runtime(request, django_db_setup, django_db_blocker):
    """One engine (with its recorder) for the module; removed afterwards."""
    with RuntimeEnv("trash" + request.module.__name__.rsplit(".", 1)[-1].replace("_", "")[-12:]) as env:
        env.start_engine()
        yield env


@pytest.fixture(scope="module")
def stub():
    server = Stub()
    yield server
    server.close()


@pytest.fixture(scope="module")
def celery_worker(runtime):
    """A Celery worker subprocess consuming a unique queue; this process's tasks are sent there too."""
    from admin_ui.celery import app

    queue = f"fytest-celery-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    log = Path(f"/tmp/{queue}.log")
    env = {**runtime.env(), "CELERY_QUEUE": queue}
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*celery_worker_argv(queue), "-l", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine can take long to start Celery
        while runtime.consumers(queue) < 1:
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the Celery worker did not start consuming"
            time.sleep(0.2)
        worker.log = log  # type: ignore[attr-defined]
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        app.conf.task_default_queue = previous
        conn, channel = runtime.channel()
        channel.queue_delete(queue=queue)
        channel.exchange_delete(exchange=queue)  # Celery declares a direct exchange named after its queue
        conn.close()
