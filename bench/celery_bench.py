"""Celery baseline: per message a chain of 5 no-op tasks, acks late, one worker with concurrency 2; the fifth task
records its end time in Redis."""

from __future__ import annotations

import os
import threading
import time

import pika
import redis

from bench.common import (
    AMQP_URL,
    REDIS_URL,
    ROOT,
    RUN_ID,
    BenchResult,
    add_throughput,
    children,
    consumer_count,
    env_float,
    env_int,
    payload,
    queue_type,
    wait_until,
)

STAGES = 5
CONCURRENCY = 2


def run() -> BenchResult:
    """Run BENCH_MESSAGES (or BENCH_CELERY_MESSAGES) chains through a real worker; processes/s, p50, p99."""
    result = BenchResult("celery")
    # Celery needs ~5 minutes for 20,000 chains on 2 cores; its rate does not depend on N (its latencies do), so
    # by default it runs a quarter of BENCH_MESSAGES to keep `make bench` within its time budget.
    count = env_int("BENCH_CELERY_MESSAGES", max(1, env_int("BENCH_MESSAGES", 20_000) // 4))
    timeout = env_float("BENCH_CELERY_TIMEOUT", 300)
    queue = f"{RUN_ID}.celery"
    key = f"{RUN_ID}:celery:ends"
    os.environ.update({"BENCH_CELERY_QUEUE": queue, "BENCH_CELERY_REDIS_KEY": key, "BENCH_QUEUE_TYPE": queue_type()})
    from celery import chain

    from bench.celery_app import app, noop, noop_last

    assert app.conf.task_default_queue == queue, "bench.celery_app was imported before its queue was set"
    store = redis.Redis.from_url(REDIS_URL)
    store.delete(key)
    setup = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    setup.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": queue_type()})
    setup.close()
    try:
        with children() as procs:
            worker = procs.start(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "bench.celery_app",
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    str(CONCURRENCY),
                    "-Q",
                    queue,
                    "-n",
                    f"{RUN_ID}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "warning",
                ],
                log_name="celery-worker",
            )
            if not wait_until(lambda: worker.poll() is not None or consumer_count(queue) > 0, timeout=60, interval=0.5):
                raise RuntimeError("the Celery worker did not start consuming within 60 s")
            if worker.poll() is not None:
                raise RuntimeError(
                    f"the Celery worker exited with {worker.returncode}; see bench/results/celery-worker.log"
                )
            bodies = [payload(i).decode() for i in range(min(count, 1000))]
            started = time.time()
            published = [0]
            stop = threading.Event()

            def publish() -> None:
                with app.producer_or_acquire() as producer:
                    for index in range(count):
                        if stop.is_set():
                            return
                        at = time.time()
                        body = bodies[index % len(bodies)]
                        links = [noop.s(body, at)] + [noop.s(published_at=at) for _ in range(STAGES - 2)]
                        chain(*links, noop_last.s(published_at=at)).apply_async(producer=producer)
                        published[0] += 1

            publisher = threading.Thread(target=publish, name="celery-publisher", daemon=True)
            publisher.start()
            wait_until(lambda: worker.poll() is not None or store.llen(key) >= count, timeout=timeout, interval=0.5)
            stop.set()
            publisher.join(timeout=30)
            ends = [tuple(map(float, raw.decode().split(","))) for raw in store.lrange(key, 0, -1)]
            latencies = [(end - at) * 1000 for at, end in ends]
            last = max((end for _, end in ends), default=time.time())
            add_throughput(result, count=len(ends), seconds=last - started, latencies_ms=latencies, unit="processes/s")
            result.details.update(
                {"stages": STAGES, "concurrency": CONCURRENCY, "published": published[0], "queue_type": queue_type()}
            )
            if len(ends) < count:
                # Chains are FIFO on one queue: every chain's last task queues behind all first tasks, so a
                # time-boxed run finishes almost none and its figures would mean nothing.
                result.error = f"only {len(ends)}/{count} chains finished within {timeout:.0f}s"
    finally:
        store.delete(key)
        conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        try:
            channel = conn.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(queue)  # Celery declares a direct exchange named after its queue
        finally:
            conn.close()
    return result
