"""Delay tiers: a delay is a hop through TTL queues that dead-letter back to the node; nothing sleeps in memory."""

from __future__ import annotations

from topology.runtime import names


def pick_tier(remaining_ms: int, tiers: list[int] | None = None) -> int | None:
    """The tier to wait in for `remaining_ms`, or None when the message is due now.

    The biggest tier that does not overshoot is used; a longer delay hops again on arrival (`due-at`).
    A remainder shorter than half the smallest tier runs now rather than waiting a whole tier more.
    """
    tiers = tiers if tiers is not None else names.delay_tiers()
    if remaining_ms <= 0 or not tiers:
        return None
    fitting = [t for t in tiers if t <= remaining_ms]
    if fitting:
        return max(fitting)
    return tiers[0] if remaining_ms * 2 >= tiers[0] else None
