"""The engine's side of the limiter: which keys a run must pass, and what to do when it must wait.

Keys of a run: its install's `tenant|application` key (a staff-set group key `|application` too) when the node
is bound to an install, and every `key;seconds;amount` group of the message's `limiter-key` header (Orchesty's
format, namespaced per tenant). A node with no key never touches Redis.

Over the limit the message waits the limiter's time: through the delay tiers when the wait is at least the
smallest tier, otherwise (and always on ordered nodes) held unacked in place, so nothing polls and order holds.
Redis unreachable: the message is held and the engine stops taking that node's messages until it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from topology.runtime import headers as h
from topology.runtime import names
from topology.runtime.ratelimit import Decision, LimiterUnavailable, Rate, acquire, group_key, install_key, pause
from topology.runtime.results import LIMIT_WAIT, ResultCode

if TYPE_CHECKING:
    from topology.runtime.errors import RetryableError
    from topology.runtime.executor import Outcome, Run
    from topology.runtime.sdk import Result

log = logging.getLogger(__name__)

DOWN_RETRY_MS = 1000
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
    run: Run, outcome: Outcome, wait_ms: int, extra: dict[str, str], reason: str, code: int = LIMIT_WAIT
) -> Outcome:
    """Send the message back to its node after `wait_ms`: a delay tier, or held in place when short or ordered."""
    outcome.code = code
    outcome.message = f"limited, waiting {wait_ms} ms: {reason}"
    extra = dict(extra)
    if run.headers.get(h.RETRY_ATTEMPT):
        extra[h.RETRY_ATTEMPT] = run.headers[h.RETRY_ATTEMPT]
    tiers = names.delay_tiers()
    if run.node.ordered or run.node.shards or not tiers or wait_ms < tiers[0]:
        outcome.hold_ms = max(1, wait_ms)
        outcome.hold_headers = {**run.headers, **extra}
    else:
        # Only whole smallest-tier steps go through the tiers (a remainder would be rounded up to a whole tier,
        # up to half a tier late), one step fewer than fit: every hop adds a little broker latency, so the message
        # comes back up to two steps early and holds for the rest, instead of a little late for its slot.
        steps = wait_ms // tiers[0]
        delay_ms = (steps - 1 if steps >= 2 else steps) * tiers[0]
        outcome.outputs.append(run.to_self(extra, delay_ms=delay_ms, tag=f"limit:{h.now_ms()}"))
    return outcome


def before_call(run: Run, outcome: Outcome) -> Outcome | None:
    """Ask the limiter before the node runs: None to run now, else the outcome that makes the message wait."""
    rates = rates_for(run)
    if not rates:
        return None
    slot = int(run.headers.get(h.LIMITER_SLOT) or 0)
    try:
        decision = acquire(rates, member=run.mid, waiter=_waiter(run), slot=slot)
    except LimiterUnavailable as exc:
        return _down(run, outcome, exc)
    if decision.admitted:
        return None
    return wait(run, outcome, decision.wait_ms, _slot_header(decision), decision.reason)


def _slot_header(decision: Decision) -> dict[str, str]:
    return {h.LIMITER_SLOT: str(decision.slot)} if decision.slot else {}


def after_retry_after(run: Run, outcome: Outcome, exc: RetryableError) -> Outcome | None:
    """A remote 429/503 with Retry-After pauses the run's keys for every engine; the message waits it out."""
    if exc.retry_after is None:
        return None
    keys = [r.key for r in rates_for(run) if not r.key.startswith("|")]
    if not keys:
        return None
    try:
        pause(keys, exc.retry_after)
    except LimiterUnavailable as down:
        return _down(run, outcome, down)
    return wait(run, outcome, int(exc.retry_after * 1000), {}, f"remote asked to wait ({exc.reason[:200]})")


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
