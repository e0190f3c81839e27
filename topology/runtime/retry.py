"""Per-node retry policy (Step Functions style): attempts, interval, backoff rate, max delay, jitter, retry_on."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Failure kinds the engine classifies; `retry_on` lists some of them ("all" means every retryable kind).
RETRYABLE_KINDS = ("5xx", "408", "429", "connection", "timeout", "error")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failed node run is tried again; `attempts` counts retries after the first try."""

    attempts: int = 3
    interval: float = 1.0
    backoff: float = 2.0
    max_delay: float = 300.0
    jitter: bool = False
    retry_on: tuple[str, ...] = field(default=("all",))

    @classmethod
    def from_config(cls, data: dict[str, Any] | None) -> RetryPolicy:
        data = data or {}
        retry_on = data.get("retry_on") or ("all",)
        if isinstance(retry_on, str):
            retry_on = [part.strip() for part in retry_on.split(",") if part.strip()]
        jitter = data.get("jitter", False)
        if isinstance(jitter, str):
            jitter = jitter.strip().lower() in {"1", "true", "yes", "full"}
        return cls(
            attempts=max(0, int(data.get("attempts", cls.attempts))),
            interval=max(0.0, float(data.get("interval", cls.interval))),
            backoff=max(1.0, float(data.get("backoff", cls.backoff))),
            max_delay=max(0.0, float(data.get("max_delay", cls.max_delay))),
            jitter=bool(jitter),
            retry_on=tuple(str(k) for k in retry_on),
        )

    def retries(self, kind: str) -> bool:
        return "all" in self.retry_on or kind in self.retry_on or (kind.startswith("5") and "5xx" in self.retry_on)

    def delay_ms(self, attempt: int) -> int:
        """Delay before retry number `attempt` (0-based): interval * backoff^attempt, capped, optionally jittered."""
        delay = min(self.interval * (self.backoff**attempt), self.max_delay)
        if self.jitter:
            delay = random.uniform(0, delay)
        return int(delay * 1000)
