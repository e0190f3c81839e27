"""The live-monitoring stream's sender: coarse "changed" notices to one websocket group per tenant and topology.

Callers (the recorder after its commit, the queue-depth sampler, process services) only mark what changed; a
daemon thread sends the marks at most once per FLOWYARD_LIVE_INTERVAL_MS per group. Marking is a set insert
under a lock, so the recorder never waits on Redis, and a burst of a thousand batches becomes one notice.
Notices carry no data a page trusts: pages re-read state from the database when they hear one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger("flowyard.live")

WHAT = ("processes", "stats", "depths", "trash")


def tenant_group(tenant_id: int) -> str:
    """Every page of a tenant that is not about one topology (process list, dashboard)."""
    return f"fy.t{tenant_id}"


def topology_group(tenant_id: int, topology_id: int) -> str:
    """The monitor and process pages of one topology."""
    return f"fy.t{tenant_id}.top{topology_id}"


class Notifier:
    """Collects marks from any thread and sends them, coalesced, from one daemon thread per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: dict[tuple[int, int], set[str]] = defaultdict(set)
        self._versions: set[int] = set()
        self._version_cache: dict[int, tuple[int, int]] = {}
        self._thread: threading.Thread | None = None
        self.sent = 0  # notices sent by this process, for tests and the benchmark

    @staticmethod
    def enabled() -> bool:
        return bool(getattr(settings, "FLOWYARD_LIVE_NOTICES", True))

    def topology_changed(self, *, tenant_id: int, topology_id: int, what: str) -> None:
        if not self.enabled():
            return
        with self._lock:
            self._pending[(tenant_id, topology_id)].add(what)
            self._start()
        self._wake.set()

    def versions_changed(self, *, version_ids: set[int]) -> None:
        """The recorder knows version ids, not topologies; the sender thread resolves them (cached: a version's
        topology never changes), so the recorder's transaction pays nothing."""
        if not self.enabled() or not version_ids:
            return
        with self._lock:
            self._versions |= version_ids
            self._start()
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="flowyard-live-notices", daemon=True)
            self._thread.start()

    def _take(self) -> dict[tuple[int, int], set[str]]:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(set)
            versions, self._versions = self._versions, set()
        unknown = versions - self._version_cache.keys()
        if unknown:
            from topology.models import TopologyVersion

            for pk, topology_id, tenant_id in TopologyVersion.objects.filter(pk__in=unknown).values_list(
                "pk", "topology_id", "topology__tenant_id"
            ):
                self._version_cache[pk] = (tenant_id, topology_id)
        for version_id in versions:
            owner = self._version_cache.get(version_id)
            if owner is not None:
                pending[owner] |= {"processes", "stats"}
        return pending

    def _run(self) -> None:
        loop = asyncio.new_event_loop()  # one loop for the thread's life: channels_redis pools are per loop
        interval = max(0.05, settings.FLOWYARD_LIVE_INTERVAL_MS / 1000)
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                pending = self._take()
                if pending:
                    loop.run_until_complete(self._send(pending))
            except Exception:
                log.exception("sending live notices failed")
            finally:
                close_old_connections()
            # The coalescing window: marks arriving meanwhile wait for the next round.
            time.sleep(interval)

    async def _send(self, pending: dict[tuple[int, int], set[str]]) -> None:
        from channels.layers import get_channel_layer

        layer: Any = get_channel_layer()
        if layer is None:
            return
        by_tenant: dict[int, dict[str, Any]] = defaultdict(lambda: {"topologies": [], "what": set()})
        for (tenant_id, topology_id), what in pending.items():
            notice = {"type": "live.changed", "topology": topology_id, "what": sorted(what)}
            await layer.group_send(topology_group(tenant_id, topology_id), notice)
            by_tenant[tenant_id]["topologies"].append(topology_id)
            by_tenant[tenant_id]["what"] |= what
            self.sent += 1
        for tenant_id, summary in by_tenant.items():
            topologies, kinds = sorted(summary["topologies"]), sorted(summary["what"])
            notice = {"type": "live.changed", "topologies": topologies, "what": kinds}
            await layer.group_send(tenant_group(tenant_id), notice)
            self.sent += 1

    def flush_now(self) -> None:
        """Send what is pending in the calling thread (tests, and the web process's own services)."""
        pending = self._take()
        if pending:
            asyncio.run(self._send(pending))


notifier = Notifier()


def topology_changed(*, tenant_id: int, topology_id: int, what: str = "processes") -> None:
    """Mark one topology of a tenant as changed; sent coalesced, after the caller's commit."""
    transaction.on_commit(lambda: notifier.topology_changed(tenant_id=tenant_id, topology_id=topology_id, what=what))


def versions_changed(*, version_ids: set[int]) -> None:
    """Mark the topologies of these versions as changed (the recorder's hook, after its commit)."""
    notifier.versions_changed(version_ids=version_ids)
