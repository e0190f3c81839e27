"""Exponential backoff with jitter for reconnect loops and for retries of unavailable runtime state."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def backoff_seconds(attempt: int, *, base: float, cap: float, factor: float = 2.0, rand: float = 1.0) -> float:
    """Delay before retry `attempt` (0-based): base * factor^attempt capped at `cap`, scaled into [cap/2, cap].

    `rand` in [0, 1] spreads retries ("equal jitter"): half the delay is fixed so a herd of engines reconnecting
    to a restarted broker never retries in a tight loop, the other half keeps them from reconnecting in step.
    """
    if attempt < 0:
        attempt = 0
    ceiling = min(cap, base * factor ** min(attempt, 64))
    return ceiling / 2 + ceiling / 2 * min(max(rand, 0.0), 1.0)


@dataclass
class Backoff:
    """A reconnect loop's delays: grows after each failure, back to `base` after a success (`reset`)."""

    base: float = 0.5
    cap: float = 15.0
    factor: float = 2.0
    attempt: int = 0
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def next(self) -> float:
        delay = backoff_seconds(self.attempt, base=self.base, cap=self.cap, factor=self.factor, rand=self.rand())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
