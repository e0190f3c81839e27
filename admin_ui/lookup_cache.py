"""Short-lived per-process caches of the lookups every start repeats: a webhook token's target, a topology name's
enabled version and start node. (Not an API token: its creator's current role is read on every request.)

Each entry lives `seconds`; every change that could make a cached answer wrong (a revoke, a rotation, a signing
change, a role change, an enable or disable, a rename or a deletion) calls `lookups_changed()`, which drops the
entries of this process at once; other processes (the other web workers) see the change within `seconds`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import transaction

from admin_ui.db_thread import run_sync

K = TypeVar("K")
V = TypeVar("V")

_generation = 0


def lookups_changed() -> None:
    """Drop every cached lookup of this process: now, and inside a transaction again once it commits."""
    _bump()
    if transaction.get_connection().in_atomic_block:
        # A lookup between now and the commit read the old rows and cached them under the new generation.
        transaction.on_commit(_bump)


def _bump() -> None:
    global _generation
    _generation += 1


class LookupCache(Generic[K, V]):
    """A dict of (expiry, generation, value); at most `size` entries (cleared when full: lookups are cheap)."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[K, tuple[float, int, V]] = {}
        self._loads: dict[K, asyncio.Future[V]] = {}

    def get(self, key: K) -> tuple[V] | None:
        """`(value,)` (the value may be None: "no such token" is cached too), or None when there is no entry, it
        expired or something changed since."""
        hit = self._entries.get(key)
        if hit is None or hit[1] != _generation or hit[0] <= time.monotonic():
            return None
        return (hit[2],)

    def put(self, key: K, value: V, *, generation: int) -> None:
        """Cache `value`, read when the generation was `generation` (see `generation()`): a change meanwhile wins."""
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, generation, value)

    def clear(self) -> None:
        self._entries.clear()

    def load(self, key: K, lookup: Callable[[], V]) -> V:
        """The cached value of `key`, else `lookup()` (cached unless it raises)."""
        hit = self.get(key)
        if hit is not None:
            return hit[0]
        seen = generation()
        value = lookup()
        self.put(key, value, generation=seen)
        return value

    async def aload(self, key: K, lookup: Callable[[], V]) -> V:
        """`load` from the event loop: `lookup` runs on the database thread (`admin_ui.db_thread`).

        The callers that miss `key` while its lookup runs share it: when an entry expires, fifty requests make one
        lookup instead of queueing fifty on the worker's one database thread.
        """
        hit = self.get(key)
        if hit is not None:
            return hit[0]
        pending = self._loads.get(key)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._loads[key] = asyncio.ensure_future(self._lookup(key, lookup))
            pending.add_done_callback(lambda done: self._loads.pop(key) if self._loads.get(key) is done else None)
        return await asyncio.shield(pending)  # a caller that goes away does not cancel the others' lookup

    async def _lookup(self, key: K, lookup: Callable[[], V]) -> V:
        seen = generation()
        value = await run_sync(lookup)
        self.put(key, value, generation=seen)
        return value


def generation() -> int:
    """Read before a lookup and pass to `put`: a change during the lookup then leaves the entry stale at once."""
    return _generation
