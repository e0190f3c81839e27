"""Throttling of logins, password resets, sign-ups (per account and per IP) and API tokens, on Redis counters.

Fixed windows in Redis (INCR + EXPIRE), shared by every web worker. When Redis cannot be reached the request
is let through and the failure logged: a broken counter store must not lock every user out.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from admin_ui.models import ApiToken

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _key(scope: str, subject: str) -> str:
    return f"{settings.FLOWYARD_THROTTLE_PREFIX}:{scope}:{subject.strip().lower()}"


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def record(scope: str, subject: str, *, window: int | None = None) -> int:
    """Count one attempt of `subject` in `scope`; returns the count in the current window (0 if Redis is down)."""
    return record_many(scope, {subject: 1}, window=window)[subject]


def record_many(scope: str, attempts: Mapping[str, int], *, window: int | None = None) -> dict[str, int]:
    """`record` of several subjects (and attempts each) in one round trip; the counts after (0 if Redis is down)."""
    window = window or settings.FLOWYARD_THROTTLE_WINDOW_SECONDS
    try:
        pipe = _client(settings.REDIS_URL).pipeline()
        for subject, count in attempts.items():
            pipe.incrby(_key(scope, subject), count)
            pipe.expire(_key(scope, subject), window, nx=True)
        replies = pipe.execute()
        return {subject: int(replies[2 * i]) for i, subject in enumerate(attempts)}
    except redis.RedisError as exc:
        log.error("throttle counter unavailable: %s", exc)
        return dict.fromkeys(attempts, 0)


def clear(scope: str, subject: str) -> None:
    try:
        _client(settings.REDIS_URL).delete(_key(scope, subject))
    except redis.RedisError as exc:
        log.error("throttle counter unavailable: %s", exc)


def blocked_for(*checks: tuple[str, str, int]) -> int:
    """Seconds until every (scope, subject, limit) is under its limit again; 0 when none is reached."""
    wait = 0
    try:
        store = _client(settings.REDIS_URL)
        for scope, subject, limit in checks:
            count = int(store.get(_key(scope, subject)) or 0)
            if count >= limit:
                wait = max(wait, int(store.ttl(_key(scope, subject))), 1)
    except redis.RedisError as exc:
        log.error("throttle counter unavailable: %s", exc)
        return 0
    return wait


def message(wait: int, what: str) -> str:
    minutes = max(1, math.ceil(wait / 60))
    return f"Too many {what}. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def checks_for(scope: str, *, account: str, request: HttpRequest) -> tuple[tuple[str, str, int], ...]:
    """The per-account and per-IP limits of `scope`."""
    return (
        (f"{scope}:account", account, settings.FLOWYARD_THROTTLE_ACCOUNT),
        (f"{scope}:ip", client_ip(request), settings.FLOWYARD_THROTTLE_IP),
    )


def record_both(scope: str, *, account: str, request: HttpRequest) -> None:
    record(f"{scope}:account", account)
    record(f"{scope}:ip", client_ip(request))


def api_token_wait(token: ApiToken) -> int:
    """Count one request of `token`: 0 within `FLOWYARD_API_TOKEN_RATE` (e.g. 600/min), else the seconds to wait."""
    return api_token_waits([token])[0]


def api_token_waits(tokens: list[ApiToken]) -> list[int]:
    """`api_token_wait` of several requests in one Redis round trip (a token may come more than once): each is
    counted and refused as if they had come one after the other."""
    num, duration = SimpleRateThrottle.parse_rate(None, settings.FLOWYARD_API_TOKEN_RATE)  # type: ignore[arg-type]
    if num is None or duration is None:
        return [0] * len(tokens)
    requests = Counter(str(token.pk) for token in tokens)
    totals = record_many("api-token", requests, window=duration)
    waits, seen, blocked = [], Counter[str](), {}
    for token in tokens:
        subject = str(token.pk)
        seen[subject] += 1
        if totals[subject] - requests[subject] + seen[subject] <= num:  # this request's place in the window
            waits.append(0)
            continue
        if subject not in blocked:
            blocked[subject] = blocked_for(("api-token", subject, num)) or duration
        waits.append(blocked[subject])
    return waits


class ApiTokenThrottle(BaseThrottle):
    """DRF throttle per API token (`api_token_wait`); session requests are not counted."""

    def __init__(self) -> None:
        self.wait_seconds: int = 0

    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        self.wait_seconds = api_token_wait(token)
        return not self.wait_seconds

    def wait(self) -> float | None:
        return float(self.wait_seconds) if self.wait_seconds else None
