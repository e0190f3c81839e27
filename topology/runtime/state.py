"""Shared runtime state: join arrivals (database) and the set of terminated correlation ids (Redis, from the database).

Join state lives in the database, not in Redis: a join's first arrivals are acked messages, so whatever holds
them must be as durable as the process rows themselves. Redis may restart empty (it did, and 75 of 1,000
parallel processes ended `success` without reaching their end); a row committed before the ack cannot vanish,
and the row lock makes exactly one arrival complete the set even with many engines.

The terminated set is a cache: the database's terminated processes are the record, Redis holds a copy every
engine reads twice a second. When Redis comes back empty (no `loaded` marker) the first engine to notice copies
the record back; every engine also merges the record every 30 s to cover a terminate made while Redis was down.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from typing import Any, NamedTuple

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from processes.models import JoinState, Process
from topology.runtime import names

log = logging.getLogger(__name__)

TERMINATED_TTL_SECONDS = 7 * 24 * 3600
JOIN_TTL_SECONDS = 24 * 3600
JOIN_CLEANUP_EVERY_SECONDS = 600.0
_last_join_cleanup = 0.0


class StateUnavailable(Exception):
    """Runtime state (database or Redis) cannot be reached now: the message must wait and come back, not be trashed."""


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


# ------------------------------------------------------------------------------------------------ joins


class JoinArrivals(NamedTuple):
    """A join's state after one arrival: real arrivals' bodies by source, stopped sources, whether to emit."""

    bodies: dict[str, Any]
    skipped: list[str]
    emit: bool


def join_arrive(
    *, key: str, source: str, body: Any, expected: int, message_id: str, skipped: bool = False
) -> JoinArrivals:
    """Record one arrival at a join (`skipped`: its branch stopped with 1003 upstream); the set so far and its end.

    Idempotent: a redelivered arrival changes nothing, and the arrival that completed the set (and only it, also
    when redelivered) gets `emit`, so the merge is published once and repeats carry the same message id. A source
    counts once, whichever of its real or skip arrival came first. Raises StateUnavailable when the database
    cannot be reached.
    """

    try:
        with transaction.atomic():
            JoinState.objects.bulk_create([JoinState(key=key)], ignore_conflicts=True)
            row = JoinState.objects.select_for_update().get(key=key)
            changed = False
            if source not in row.arrivals and source not in row.skipped:
                if skipped:
                    row.skipped.append(source)
                else:
                    row.arrivals[source] = body
                changed = True
            if not row.completed_by and len(row.arrivals) + len(row.skipped) >= expected:
                row.completed_by = message_id
                changed = True
            if changed:
                row.save(update_fields=["arrivals", "skipped", "completed_by"])
        _join_cleanup(JoinState)
    except DatabaseError as exc:
        # A broken connection stays broken in this worker thread until closed; the next call reconnects.
        close_old_connections()
        raise StateUnavailable(f"join state unavailable: {exc}") from exc
    return JoinArrivals(dict(row.arrivals), list(row.skipped), row.completed_by == message_id)


def _join_cleanup(model: Any) -> None:
    """Forget joins older than a day now and then (what Redis's expiry used to do)."""
    global _last_join_cleanup
    now = time.monotonic()
    if now - _last_join_cleanup < JOIN_CLEANUP_EVERY_SECONDS:
        return
    _last_join_cleanup = now
    model.objects.filter(created_at__lt=timezone.now() - dt.timedelta(seconds=JOIN_TTL_SECONDS)).delete()


def redeliveries_incr(message_id: str) -> int:
    """Count one more redelivery of a message id (all copies together); forgotten after a day."""
    key = names.redis_key("redeliveries", message_id)
    pipe = client().pipeline()
    pipe.incr(key)
    pipe.expire(key, JOIN_TTL_SECONDS)
    count, _ = pipe.execute()
    return int(count)


# ------------------------------------------------------------------------------------------------ terminated


def _loaded_key() -> str:
    return names.redis_key("terminated", "loaded")


def terminated_add(correlation_id: str) -> None:
    """Remember a terminated process so every engine drops its remaining messages."""
    now = time.time()
    pipe = client().pipeline()
    pipe.zadd(names.terminated_key(), {correlation_id: now})
    pipe.zremrangebyscore(names.terminated_key(), 0, now - TERMINATED_TTL_SECONDS)
    pipe.execute()


def terminated_all() -> frozenset[str]:
    """The terminated correlation ids; refills Redis from the database when Redis lost them (restart, flush)."""
    pipe = client().pipeline()
    pipe.exists(_loaded_key())
    pipe.zrange(names.terminated_key(), 0, -1)
    loaded, members = pipe.execute()
    ids = frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    if not loaded:
        ids |= terminated_restore()
    return ids


def terminated_restore() -> frozenset[str]:
    """Copy the recently terminated processes from the database (the record) into Redis; returns their ids."""

    since = timezone.now() - dt.timedelta(seconds=TERMINATED_TTL_SECONDS)
    try:
        ids = frozenset(
            Process.objects.filter(status=Process.Status.TERMINATED, finished_at__gte=since).values_list(
                "correlation_id", flat=True
            )
        )
    finally:
        close_old_connections()
    now = time.time()
    try:
        pipe = client().pipeline()
        if ids:
            pipe.zadd(names.terminated_key(), dict.fromkeys(ids, now))
        pipe.set(_loaded_key(), "1")
        pipe.execute()
    except redis.RedisError as exc:  # the ids are still good for this engine
        log.warning("cannot copy terminated processes to Redis: %s", exc)
    log.debug("terminated set restored from the database: %d processes", len(ids))
    return ids
