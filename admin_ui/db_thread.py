"""ORM calls from the event loop outside Django's request cycle (the ASGI lanes and what they call).

They run on asgiref's one shared sync thread (`sync_to_async`, thread-sensitive): Django's connections are per
thread, and that thread serves every lane request of its web worker for the worker's life. Django checks connections
when a request starts and ends (`close_old_connections`); nothing sends those signals here, so `run_sync` does the
same check around each call, with one difference: DATABASE_CONN_MAX_AGE 0 ("a connection per request") keeps this
thread's connection while it works. The REST start reads its token on every request; a PostgreSQL backend per
request would cost more than the rest of the start, on the one thread all of the worker's lane requests share.

`Batched` goes further for a lookup every request makes: the calls that arrive while the thread is busy go together
in the next call. Each blocking round trip on that thread ends by waiting for the GIL, which the busy event loop
holds for up to the switch interval (5 ms); py-spy showed the REST start's thread spending most of its time there,
one request at a time, so a web worker started well under a hundred processes a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K")


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


class Batched(Generic[K, R]):
    """`await batched(item)`: `lookup(items)` (one result per item, in order) runs with every item waiting at the time.

    The first caller does not wait for others: its call starts at once, and the callers that come while it runs go
    in the next one. An exception of `lookup` is raised to every caller of that batch.
    """

    def __init__(self, lookup: Callable[[list[K]], Sequence[R]]) -> None:
        self.lookup = lookup
        self._waiting: list[tuple[K, asyncio.Future[R]]] = []
        self._runner: asyncio.Future[None] | None = None

    async def __call__(self, item: K) -> R:
        loop = asyncio.get_running_loop()
        if self._runner is not None and self._runner.get_loop() is not loop:
            self._waiting, self._runner = [], None  # a loop that is gone (tests run one per request)
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await run_sync(self.lookup, [item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its caller went away
                    future.set_result(result)
