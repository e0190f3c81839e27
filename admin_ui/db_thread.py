"""ORM calls from the event loop outside Django's request cycle (the ASGI lanes and what they call).

They run on asgiref's one shared sync thread (`sync_to_async`, thread-sensitive): Django's connections are per
thread, and that thread serves every lane request of its web worker for the worker's life. Django checks connections
when a request starts and ends (`close_old_connections`); nothing sends those signals here, so `run_sync` does the
same check around each call, with one difference: DATABASE_CONN_MAX_AGE 0 ("a connection per request") keeps this
thread's connection while it works. The REST start reads its token on every request; a PostgreSQL backend per
request would cost more than the rest of the start, on the one thread all of the worker's lane requests share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


async def run_sync(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`fn(*args, **kwargs)` on the shared sync thread, its connection checked before and after as between requests."""
    return await sync_to_async(_checked(fn))(*args, **kwargs)


def _checked(fn: Callable[P, R]) -> Callable[P, R]:
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        _between_requests()
        try:
            return fn(*args, **kwargs)
        finally:
            _between_requests()

    return call


def _between_requests() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue  # a test's transaction (the lane runs in the test's thread there): never close inside one
        if conn.settings_dict["CONN_MAX_AGE"] == 0:
            conn.close_at = None  # kept while usable; a broken connection or a changed autocommit still closes
        conn.close_if_unusable_or_obsolete()
