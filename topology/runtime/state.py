"""Shared runtime state in Redis: join arrivals and the set of terminated correlation ids."""

from __future__ import annotations

import functools
import time

import redis
from django.conf import settings

from topology.runtime import names

TERMINATED_TTL_SECONDS = 7 * 24 * 3600


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def terminated_add(correlation_id: str) -> None:
    """Remember a terminated process so every engine drops its remaining messages."""
    now = time.time()
    pipe = client().pipeline()
    pipe.zadd(names.terminated_key(), {correlation_id: now})
    pipe.zremrangebyscore(names.terminated_key(), 0, now - TERMINATED_TTL_SECONDS)
    pipe.execute()


def terminated_all() -> frozenset[str]:
    members = client().zrange(names.terminated_key(), 0, -1)
    return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)
