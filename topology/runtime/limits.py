"""The engine's side of the limiter: which keys a run must pass, and what to do when it must wait.

Keys of a run: its install's `tenant|application` key (a staff-set group key `|application` too) when the node
is bound to an install, and every `key;seconds;amount` group of the message's `limiter-key` header (Orchesty's
format, namespaced per tenant). A node with no key never touches Redis, nor does one whose keys have no limit:
pauses (a remote's 429/503 with Retry-After) are kept in each engine's memory, told to every engine over the
control exchange the moment they start and read back from Redis (their record) every PAUSE_REFRESH_SECONDS, so
an engine that starts later or missed a notice still learns them. A limited key asks Redis once per call.

Over the limit the message waits the limiter's time: through the delay tiers when the wait is at least the
smallest tier, otherwise (and always on ordered nodes) held unacked in place, so nothing polls and order holds.
Redis unreachable: the message is held and the engine stops taking that node's messages until it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings

from topology.runtime import headers as h
from topology.runtime import names
from topology.runtime.ratelimit import (
    Decision,
    LimiterUnavailable,
    Rate,
    acquire,
    group_key,
    hook_timed,
    install_key,
    pause,
    pauses,
)
from topology.runtime.results import LIMIT_WAIT, ResultCode

if TYPE_CHECKING:
    from topology.runtime.errors import RetryableError
    from topology.runtime.executor import Outcome, Run
    from topology.runtime.sdk import Result

log = logging.getLogger(__name__)

DOWN_RETRY_MS = 1000
PAUSE_REFRESH_SECONDS = 1.0
EARLY_TIERS = 5  # a waiting message comes back from the delay tiers at most this many smallest tiers early
# A pause notice goes out only when it ends this much later than the one already known (a burst of 429s
# answered together is told once).
PAUSE_NOTICE_STEP_MS = 100
# Kinds that call out: only these ask the limiter (a key riding on a message does not slow routing nodes).
CALL_KINDS = frozenset({"worker", "batch", "connector", "python"})


# Where limits come from: the limiter app registers its selector at start (limiter/apps.py), so the runtime
# imports no limiter module and the trash, which runs the runtime's executor, stays independent of the limiter.
_loader: Callable[[], dict[str, Rate]] | None = None


def set_loader(loader: Callable[[], dict[str, Rate]]) -> None:
    global _loader
    _loader = loader


def load() -> dict[str, Rate]:
    """Every configured limit by key (the engine's loader calls this with the versions; no ORM on the hot path)."""
    return _loader() if _loader is not None else {}


class PauseBook:
    """The paused keys this process knows and when each pause ends (monotonic clock); longer pauses win."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self.watched = False  # an engine's watcher keeps the book in step with Redis

    def note(self, key: str, ms: int) -> int:
        """Record a pause of `ms` from now; returns by how many ms it outlasts the one known before (0: not)."""
        until = time.monotonic() + ms / 1000
        with self._lock:
            known = self._until.get(key, 0.0)
            if until <= known:
                return 0
            self._until[key] = until
            return int((until - max(known, time.monotonic())) * 1000)

    def left_ms(self, keys: list[str]) -> tuple[int, str]:
        """The longest pause left on any of `keys` and its key ((0, "") when none is paused)."""
        now = time.monotonic()
        best, which = 0.0, ""
        for key in keys:
            left = self._until.get(key, 0.0) - now
            if left > best:
                best, which = left, key
        return (int(best * 1000) + 1, which) if which else (0, "")

    def prune(self) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, until in self._until.items() if until <= now]:
                del self._until[key]


book = PauseBook()


def pause_heard(message: dict[str, Any]) -> None:
    """A pause notice from the control exchange (`control.pause_notice`), sent by the engine that got the 429."""
    try:
        ms = int(message.get("ms") or 0)
        keys = [str(k) for k in message.get("keys") or []]
    except (TypeError, ValueError):
        return
    for key in keys:
        book.note(key, ms)


def refresh_pauses() -> None:
    """Merge the pauses Redis records into the book; raises LimiterUnavailable."""
    for key, left in pauses().items():
        book.note(key, left)
    book.prune()


def watch_pauses(stop: threading.Event) -> threading.Thread:
    """Keep the book in step with Redis until `stop` (the engine starts this before consuming): the first read
    here, so the engine's first messages already see the pauses, then every second on a thread of its own.

    Redis unreachable: the book keeps what it knows and notices still arrive; limited keys stop on their own.
    """

    def read() -> None:
        try:
            refresh_pauses()
        except LimiterUnavailable as exc:
            log.debug("cannot read limiter pauses: %s", exc)

    def loop() -> None:
        while not stop.wait(PAUSE_REFRESH_SECONDS):
            read()

    read()

    book.watched = True
    thread = threading.Thread(target=loop, name="limiter-pauses", daemon=True)
    thread.start()
    return thread


def parse_limiter_key(value: str, tenant_id: int | str) -> list[Rate]:
    """Orchesty's `key;seconds;amount[;groupKey;groupSeconds;groupAmount...]`, keys namespaced by tenant."""
    parts = [p.strip() for p in value.split(";")]
    rates = []
    for i in range(0, len(parts) - 2, 3):
        key, seconds, amount = parts[i : i + 3]
        try:
            rate = Rate(f"{tenant_id}:{key}", int(amount), float(seconds))
        except ValueError:
            log.warning("ignoring malformed limiter-key group %r", ";".join(parts[i : i + 3]))
            continue
        if key and rate.amount > 0 and rate.seconds > 0:
            rates.append(rate)
    return rates


def rates_for(run: Run, extra_header: str = "") -> list[Rate]:
    node = run.node
    tenant = node.version.tenant_id
    rates: list[Rate] = []
    if node.application:
        key = install_key(tenant, node.application)
        rates.append(run.runtime.limits.get(key) or Rate(key, 0, 0))
        group = run.runtime.limits.get(group_key(node.application))
        if group is not None:
            rates.append(group)
    header = extra_header or run.headers.get(h.LIMITER_KEY, "")
    if header:
        rates += parse_limiter_key(header, tenant)
    return rates


def _waiter(run: Run) -> str:
    # Stable across the message's hops through the delay tiers, so the waiting count sees one message once.
    return f"{run.headers.get(h.PROCESS_ID) or run.mid}:{run.node.key}"


def _down(run: Run, outcome: Outcome, exc: Exception) -> Outcome:
    log.warning("limiter unavailable, holding %s on %s: %s", run.mid, run.node.key, exc)
    outcome.code = LIMIT_WAIT
    outcome.message = "limiter unavailable"
    outcome.hold_ms = DOWN_RETRY_MS
    outcome.hold_headers = dict(run.headers)
    outcome.limiter_down = True
    return outcome


def wait(
    run: Run,
    outcome: Outcome,
    wait_ms: int,
    extra: dict[str, str],
    reason: str,
    code: int = LIMIT_WAIT,
    *,
    decided: float | None = None,
) -> Outcome:
    """Send the message back to its node after `wait_ms`: a delay tier, or held in place when short or ordered.

    `decided`: when (time.monotonic()) the limiter gave `wait_ms`; a hold then ends that long after it, not after
    the answer reached the engine's timer (every late wake-up pushes the key's next window later).
    """
    outcome.code = code
    outcome.message = f"limited, waiting {wait_ms} ms: {reason}"
    extra = dict(extra)
    if run.headers.get(h.RETRY_ATTEMPT):
        extra[h.RETRY_ATTEMPT] = run.headers[h.RETRY_ATTEMPT]
    tiers = names.delay_tiers()
    # Through the tiers only whole smallest-tier steps (a remainder would be rounded up to a whole tier), and the
    # message comes back early by a tenth of the wait (at least one tier, at most EARLY_TIERS): every hop through a
    # tier adds some broker latency, and a message late for its slot pushes the key's next window later. It holds
    # for the rest in place. A wait too short for that is held in place whole, as is every wait of an ordered node.
    delay_ms = 0
    if tiers and not (run.node.ordered or run.node.shards):
        early = min(max(tiers[0], wait_ms // 10), EARLY_TIERS * tiers[0])
        delay_ms = max(0, wait_ms - early) // tiers[0] * tiers[0]
    if delay_ms <= 0:
        outcome.hold_ms = max(1, wait_ms)
        outcome.hold_headers = {**run.headers, **extra}
        outcome.hold_until = (time.monotonic() if decided is None else decided) + wait_ms / 1000
    else:
        outcome.outputs.append(run.to_self(extra, delay_ms=delay_ms, tag=f"limit:{h.now_ms()}"))
    return outcome


def before_call(run: Run, outcome: Outcome) -> Outcome | None:
    """Ask the limiter before the node runs: None to run now, else the outcome that makes the message wait."""
    rates = rates_for(run)
    if not rates:
        return None
    if not settings.FLOWYARD_LIMITER_AUDIT:
        return _before_call(run, outcome, rates)
    # Audit (tests and benchmarks): the hook's own time inside the engine, apart from the node's call around it.
    began = time.perf_counter()
    waiting = _before_call(run, outcome, rates)
    hook_timed(any(r.amount for r in rates), time.perf_counter() - began)
    return waiting


def _before_call(run: Run, outcome: Outcome, rates: list[Rate]) -> Outcome | None:
    paused_ms, paused_key = book.left_ms([r.key for r in rates])
    if paused_ms:
        return wait(run, outcome, paused_ms, {}, f"paused {paused_key}")
    if book.watched and not any(r.amount for r in rates):
        return None  # no limit and no pause: the hot path of an unlimited node costs no Redis call
    slot = int(run.headers.get(h.LIMITER_SLOT) or 0)
    try:
        decision = acquire(rates, member=run.mid, waiter=_waiter(run), slot=slot)
    except LimiterUnavailable as exc:
        return _down(run, outcome, exc)
    if decision.admitted:
        return None
    decided = time.monotonic()
    return wait(run, outcome, decision.wait_ms, _slot_header(decision), decision.reason, decided=decided)


def _slot_header(decision: Decision) -> dict[str, str]:
    return {h.LIMITER_SLOT: str(decision.slot)} if decision.slot else {}


def after_retry_after(run: Run, outcome: Outcome, exc: RetryableError) -> Outcome | None:
    """A remote 429/503 with Retry-After pauses the run's keys for every engine; the message waits it out."""
    if exc.retry_after is None:
        return None
    keys = [r.key for r in rates_for(run) if not r.key.startswith("|")]
    if not keys:
        return None
    ms = max(1, int(exc.retry_after * 1000))
    longer = max(book.note(key, ms) for key in keys)
    # The notice first: the running engines hold the key from the moment it is confirmed, and whoever sees the
    # record in Redis (an engine's watcher, a test) can count on the notice being on its way already.
    if longer >= PAUSE_NOTICE_STEP_MS:
        from topology.runtime import control  # here: control imports the spec, which imports this module

        control.pause_notice(keys, ms)
    try:
        pause(keys, exc.retry_after)
    except LimiterUnavailable as down:
        # The notice above reached the running engines; limited keys hold on their own while Redis is down.
        log.warning("cannot record the pause of %s: %s", keys, down)
    return wait(run, outcome, ms, {}, f"remote asked to wait ({exc.reason[:200]})")


def after_limited(run: Run, result: Result, outcome: Outcome, default_ms: int) -> Outcome:
    """A 1004 answer: the call counts on the worker's `limiter-key`, and the message waits for its next slot."""
    header = result.headers.get(h.LIMITER_KEY) or run.headers.get(h.LIMITER_KEY, "")
    rates = parse_limiter_key(header, run.node.version.tenant_id) if header else []
    extra = {h.LIMITER_KEY: header} if header else {}
    if not rates:
        return wait(run, outcome, default_ms, extra, result.message or "worker answered 1004", ResultCode.LIMITED)
    try:
        decision = acquire(rates, member=f"{run.mid}:1004", waiter=_waiter(run))
    except LimiterUnavailable as exc:
        return _down(run, outcome, exc)
    if decision.admitted:
        # The refused call took the key's free slot; the next try comes one interval later at the earliest.
        spacing = max(int(r.seconds * 1000 / r.amount) for r in rates)
        return wait(run, outcome, spacing, extra, result.message or "worker answered 1004", ResultCode.LIMITED)
    extra.update(_slot_header(decision))
    return wait(run, outcome, decision.wait_ms, extra, result.message or decision.reason, ResultCode.LIMITED)
