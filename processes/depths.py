"""Queue depths of enabled topologies' node queues, sampled from RabbitMQ about once a second for every tenant.

Any number of recorder processes run a sampler thread, but a Redis lease picks one sampler per tick, so the
broker sees one round of passive declares (or one management-API call) per second in total, never one per
message. Samples go to Redis with a short expiry; the monitor page reads them back and shows a dash when no
sampler is running. A change in a topology's depths sends it a "changed" notice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pika
import requests
from django.conf import settings
from django.db import close_old_connections
from pika.exceptions import ChannelClosedByBroker

from processes import events
from topology.models import Node
from topology.runtime import broker, names, state

log = logging.getLogger("flowyard.depths")

SAMPLE_SECONDS = 1.0
SAMPLE_TTL_SECONDS = 10
NODES_REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class QueueRef:
    tenant_id: int
    topology_id: int
    node_key: str
    queue: str


def _redis() -> Any:

    return state.client()


def _key(*parts: object) -> str:

    return names.redis_key("depths", *parts)


def enabled_queues() -> list[QueueRef]:
    """Every node queue of every enabled version (sharded nodes: each shard)."""

    refs: list[QueueRef] = []
    rows = Node.objects.filter(version__enabled=True, version__topology__deleted_at__isnull=True).values_list(
        "version__topology__tenant_id", "version__topology_id", "version__number", "key", "config"
    )
    for tenant_id, topology_id, number, key, config in rows:
        config = config or {}
        shards = int(config.get("shards") or 0) if config.get("orderingKey") else 0
        queue = names.node_queue(topology_id=topology_id, version=number, node_key=key)
        queues = [f"{queue}.s{i}" for i in range(shards)] if shards else [queue]
        refs.extend(QueueRef(tenant_id, topology_id, key, q) for q in queues)
    return refs


def read_depths(*, topology_id: int) -> tuple[dict[str, dict[str, int | None]], float | None]:
    """The last sample of one topology: {node key: {ready, in_flight}} and when it was taken (None: no sample)."""
    raw = _redis().get(_key(topology_id))
    if not raw:
        return {}, None
    data = json.loads(raw)
    return data["nodes"], float(data["at"])


class DepthSampler:
    """A daemon thread that samples depths while its process runs; see the module docstring."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._refs: list[QueueRef] = []
        self._refs_at = 0.0
        self._last: dict[int, str] = {}
        self._connection: Any = None
        self._channel: Any = None

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="flowyard-depth-sampler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                if self._lease():
                    self.sample_once()
            except Exception as exc:
                log.warning("sampling queue depths failed: %s", exc)
                self._close()
            finally:
                close_old_connections()
        self._close()

    def _lease(self) -> bool:
        # One winner per tick across all processes; the lease outlives the tick a little less than a second.
        return bool(_redis().set(_key("lease"), "1", nx=True, px=int(SAMPLE_SECONDS * 900)))

    def sample_once(self) -> None:
        now = time.monotonic()
        if now - self._refs_at > NODES_REFRESH_SECONDS:
            self._refs, self._refs_at = enabled_queues(), now
        counts = self._management_counts() if settings.RABBITMQ_MANAGEMENT_URL else None
        by_topology: dict[tuple[int, int], dict[str, dict[str, int | None]]] = {}
        for ref in self._refs:
            if counts is not None:
                ready, unacked = counts.get(ref.queue, (0, 0))
                sample: dict[str, int | None] = {"ready": ready, "in_flight": unacked}
            else:
                sample = {"ready": self._passive_count(ref.queue), "in_flight": None}
            nodes = by_topology.setdefault((ref.tenant_id, ref.topology_id), {})
            if ref.node_key in nodes:  # shards of one node add up
                prev = nodes[ref.node_key]
                for field in ("ready", "in_flight"):
                    a, b = prev[field], sample[field]
                    prev[field] = None if a is None or b is None else a + b
            else:
                nodes[ref.node_key] = sample
        self._publish(by_topology)

    def _publish(self, by_topology: dict[tuple[int, int], dict[str, dict[str, int | None]]]) -> None:

        pipe = _redis().pipeline()
        at = time.time()
        for (tenant_id, topology_id), nodes in by_topology.items():
            encoded = json.dumps(nodes, sort_keys=True)
            pipe.set(_key(topology_id), json.dumps({"nodes": nodes, "at": at}), ex=SAMPLE_TTL_SECONDS)
            if self._last.get(topology_id) != encoded:
                self._last[topology_id] = encoded
                events.notifier.topology_changed(tenant_id=tenant_id, topology_id=topology_id, what="depths")
        pipe.execute()

    def _passive_count(self, queue: str) -> int | None:

        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(broker.all_connection_parameters())
            self._channel = None
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
        try:
            frame = self._channel.queue_declare(queue=queue, passive=True)
        except ChannelClosedByBroker:
            self._channel = None  # not declared (yet): the broker closed the channel
            return None
        return int(frame.method.message_count)

    def _management_counts(self) -> dict[str, tuple[int, int]]:

        parsed = urllib.parse.urlsplit(settings.RABBITMQ_MANAGEMENT_URL)
        base = f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 15672}"
        vhost = urllib.parse.quote(urllib.parse.urlsplit(broker.amqp_urls()[0]).path.lstrip("/") or "/", safe="")
        response = requests.get(
            f"{base}/api/queues/{vhost}",
            params={
                "columns": "name,messages_ready,messages_unacknowledged",
                "name": f"^{names.prefix()}\\.",
                "use_regex": "true",
            },
            auth=(urllib.parse.unquote(parsed.username or "guest"), urllib.parse.unquote(parsed.password or "guest")),
            timeout=2,
        )
        response.raise_for_status()
        return {
            q["name"]: (int(q.get("messages_ready") or 0), int(q.get("messages_unacknowledged") or 0))
            for q in response.json()
        }

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            # Closing a broken connection may fail; it is gone either way.
            with contextlib.suppress(Exception):
                connection.close()
