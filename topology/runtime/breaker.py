"""A circuit breaker per remote host, shared by the node threads of one engine.

closed: calls go through; `failures` consecutive failures (connection error, timeout, 5xx) open it.
open: calls do not go out; messages wait (delayed, no retry attempt spent) until the cool-down is over.
half-open: one probe call goes out; success closes the circuit, failure opens it for another cool-down.

A message refused by an open circuit is not a failure of that message: the remote is known to be down, so the
message is delayed to the end of the cool-down instead of burning its retry attempts without even calling.
Probes are real calls and count against the probing message's retry policy as usual, so a remote that stays
down still sends messages to the trash, one probe at a time, instead of being hammered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings

from topology.runtime.errors import RetryableError

log = logging.getLogger(__name__)


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpen(Exception):
    """The remote host's circuit is open: try again after `retry_after` seconds."""

    def __init__(self, host: str, retry_after: float) -> None:
        super().__init__(f"circuit open for {host}: remote failing, next probe in {retry_after:.1f} s")
        self.host = host
        self.retry_after = retry_after


@dataclass
class CircuitBreaker:
    """The state machine of one host; thread-safe."""

    host: str = ""
    failures: int = 5
    cooldown: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    state: State = State.CLOSED
    consecutive: int = 0
    opened_at: float = 0.0
    probing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def before_call(self) -> bool:
        """Raise CircuitOpen when the call must not go out; returns True when this call is the half-open probe."""
        with self._lock:
            if self.state == State.CLOSED:
                return False
            remaining = self.opened_at + self.cooldown - self.clock()
            if self.state == State.OPEN and remaining <= 0:
                self.state = State.HALF_OPEN
                self.probing = False
            if self.state == State.HALF_OPEN and not self.probing:
                self.probing = True
                return True
            raise CircuitOpen(self.host, max(remaining, 0.0) or self.cooldown / 4)

    def success(self) -> None:
        with self._lock:
            if self.state != State.CLOSED:
                log.warning("circuit for %s closed: the remote answers again", self.host)
            self.state = State.CLOSED
            self.consecutive = 0
            self.probing = False

    def failure(self, *, probe: bool = False) -> None:
        with self._lock:
            self.consecutive += 1
            opens = (self.state == State.HALF_OPEN and probe) or (
                self.state == State.CLOSED and self.consecutive >= self.failures
            )
            if opens:
                log.warning(
                    "circuit for %s open for %.0f s after %d failures", self.host, self.cooldown, self.consecutive
                )
                self.state = State.OPEN
                self.opened_at = self.clock()
                self.probing = False

    def release(self, *, probe: bool) -> None:
        """A call ended without telling anything about the remote (e.g. a bug on our side): free the probe slot."""
        if probe:
            with self._lock:
                self.probing = False


_lock = threading.Lock()
_breakers: dict[str, CircuitBreaker] = {}


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def breaker_for(url: str) -> CircuitBreaker:
    host = host_of(url)
    with _lock:
        breaker = _breakers.get(host)
        if breaker is None:
            breaker = CircuitBreaker(
                host=host,
                failures=int(settings.FLOWYARD_BREAKER_FAILURES),
                cooldown=float(settings.FLOWYARD_BREAKER_COOLDOWN_MS) / 1000,
            )
            _breakers[host] = breaker
        return breaker


class Call:
    """What `guard` learns about one call: the HTTP status, once there is one."""

    status: int | None = None


@contextmanager
def guard(url: str) -> Iterator[Call]:
    """Wrap one HTTP call: refuses it while the host's circuit is open, then books its outcome.

    A response below 500 (4xx included: the remote is up and answering) is a success; a 5xx, a timeout or a
    connection error (raised inside as RetryableError) is a failure.
    """
    if int(settings.FLOWYARD_BREAKER_FAILURES) <= 0:
        yield Call()
        return
    breaker = breaker_for(url)
    probe = breaker.before_call()
    call = Call()
    try:
        yield call
    except RetryableError:
        breaker.failure(probe=probe)
        raise
    except BaseException:
        # Refused before it left (egress policy) or failed on our side: says nothing about the remote.
        breaker.release(probe=probe)
        raise
    if call.status is None:
        breaker.release(probe=probe)
    elif call.status >= 500:
        breaker.failure(probe=probe)
    else:
        breaker.success()
