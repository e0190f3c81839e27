"""Short-lived per-process caches of the lookups every start repeats: a webhook token's target, an API token with
its creator's role, a topology name's enabled version.

Each entry lives `seconds`; every change that could make a cached answer wrong (a revoke, a rotation, a signing
change, a role change, an enable or disable, a rename or a deletion) calls `lookups_changed()`, which drops the
entries of this process at once; other processes (the other web workers) see the change within `seconds`.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

from django.db import transaction

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


def generation() -> int:
    """Read before a lookup and pass to `put`: a change during the lookup then leaves the entry stale at once."""
    return _generation
