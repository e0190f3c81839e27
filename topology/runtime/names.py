"""Names of exchanges, queues and Redis keys, all derived from settings at call time (tests override them)."""

from __future__ import annotations

from django.conf import settings


def exchange() -> str:
    return str(settings.FLOWYARD_EXCHANGE)


def prefix() -> str:
    return str(settings.FLOWYARD_QUEUE_PREFIX)


def control_exchange() -> str:
    return f"{exchange()}.control"


def events_exchange() -> str:
    return f"{exchange()}.events"


def events_queue() -> str:
    return f"{prefix()}.events"


def delay_tiers() -> list[int]:
    return sorted({int(ms) for ms in settings.FLOWYARD_DELAY_TIERS_MS if int(ms) > 0})


# `delayq`: the tiers became quorum queues (a cluster node going down must not take delayed messages with it),
# and a classic queue cannot be redeclared as quorum. Messages left in an old `.delay.<ms>` queue still
# dead-letter to their node queues; the old queues can be deleted once empty.
def delay_exchange(ms: int) -> str:
    return f"{exchange()}.delayq.{ms}"


def delay_queue(ms: int) -> str:
    return f"{prefix()}.delayq.{ms}"


def node_queue(*, topology_id: int, version: int, node_key: str, shard: int | None = None) -> str:
    """The queue (and routing key) of one node; a sharded node has one queue per shard."""
    base = f"{prefix()}.{topology_id}.{version}.{node_key}"
    return base if shard is None else f"{base}.s{shard}"


def redis_key(*parts: object) -> str:
    return ":".join([str(settings.FLOWYARD_REDIS_PREFIX), prefix(), *(str(p) for p in parts)])


def terminated_key() -> str:
    return redis_key("terminated")
