"""The Celery baseline's app: five no-op tasks chained per message; the last one records its end time in Redis.

Run by `bench/celery_bench.py` as `celery -A bench.celery_app worker`; the queue and Redis key come from the
environment so that concurrent runs never share them."""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import Celery

QUEUE = os.environ.get("BENCH_CELERY_QUEUE", "bench.celery")
REDIS_KEY = os.environ.get("BENCH_CELERY_REDIS_KEY", "bench:celery:ends")
QUEUE_TYPE = os.environ.get("BENCH_QUEUE_TYPE", "quorum")

app = Celery("bench", broker=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_default_queue=QUEUE,
    task_default_queue_type=QUEUE_TYPE,
    worker_detect_quorum_queues=True,
    # Publisher confirms, like the other contenders (and Flowyard's own Celery settings).
    broker_transport_options={"confirm_publish": True},
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
)

_redis: redis.Redis | None = None


def _client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return _redis


@app.task(name="bench.noop")
def noop(body: Any, published_at: float) -> Any:
    """Do nothing: pass the body on to the next task of the chain."""
    return body


@app.task(name="bench.noop_last")
def noop_last(body: Any, published_at: float) -> None:
    """The fifth no-op: record `published_at,end` so the runner can compute latency and throughput."""
    _client().rpush(REDIS_KEY, f"{published_at},{time.time()}")
