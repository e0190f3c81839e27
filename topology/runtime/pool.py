"""The engine's node threads: a set of threads running jobs from one queue.

No futures: the engine hands each result back to its connection thread itself, and creating a Future (a
condition and a lock) and a work item per message cost more than running a no-op Python node.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any

log = logging.getLogger(__name__)


class NodePool:
    """Threads that run submitted calls in submission order; grows on demand, never shrinks."""

    def __init__(self, size: int, *, name: str = "node") -> None:
        self._name = name
        self._jobs: SimpleQueue[Callable[[], None] | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.grow(size)

    @property
    def size(self) -> int:
        return len(self._threads)

    def grow(self, size: int) -> None:
        with self._lock:
            while len(self._threads) < size:
                thread = threading.Thread(target=self._loop, name=f"{self._name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._jobs.put(functools.partial(fn, *args))

    def shutdown(self) -> None:
        """Drop the calls not started yet and let every thread end after its current one."""
        while True:
            try:
                self._jobs.get_nowait()
            except Empty:
                break
        for _ in self._threads:
            self._jobs.put(None)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("a node thread's job failed")
