"""The Redis limiter shared by every engine: one atomic Lua script decides, counts and schedules each call.

Each limited key keeps a sliding log of admitted calls (a sorted set of timestamps, Redis's own clock), so no
window of `seconds` ever holds more than `amount` calls, whatever the number of engines. A refused message gets
a slot, its wake time: the time the window frees counting the waiters ahead of it (`sched`), so waiters come
back in order and in the bursts the window allows instead of all at once; the log alone decides admission.
Paused keys (a remote 429/503 with Retry-After) refuse until the pause ends; an index of live pauses lets
engines learn them in one read (they keep them in memory, see `limits.py`). Per-second call counts (one
hash per minute, kept an hour) and the waiting messages feed the limiter pages.

Imports no ORM: the engine calls this on its hot path, the pages read through `usage`/`history`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from topology.runtime import names, state

HISTORY_SECONDS = 3600
# A waiter whose wake time passed this long ago without a call is gone (terminated, trashed): not counted.
WAITING_STALE_MS = 5000

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p, mid, waiter = ARGV[1], ARGV[2], ARGV[3]
local slot, margin, n = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local audit = ARGV[7] == '1'
local wait, why = 0, ''
local limited = {}
for i = 0, n - 1 do
  local k, amount, win = ARGV[8 + i * 3], tonumber(ARGV[9 + i * 3]), tonumber(ARGV[10 + i * 3]) + margin
  local ttl = redis.call('PTTL', p .. ':pause:' .. k)
  if ttl > wait then wait = ttl; why = 'paused ' .. k end
  if amount > 0 then
    local log, sched = p .. ':log:' .. k, p .. ':sched:' .. k
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - win)
    redis.call('ZREMRANGEBYSCORE', sched, '-inf', now - win)
    local nl = redis.call('ZCARD', log)
    local w = 0
    if slot == 0 then
      -- A newcomer lines up behind the waiters' wake times (after the real calls): it may run once the
      -- `amount`-th latest of them all has left the window, so waiters wake in bursts the window allows.
      local ns = redis.call('ZCARD', sched)
      local idx = nl + ns - amount
      if idx >= 0 then
        local e
        if idx >= nl then e = redis.call('ZRANGE', sched, idx - nl, idx - nl, 'WITHSCORES')
        else e = redis.call('ZRANGE', log, idx, idx, 'WITHSCORES') end
        w = tonumber(e[2]) + win - now
      end
    else
      -- A returning waiter is judged by the real calls, counting the waiters still ahead of it: the r-th in
      -- line runs once r + 1 more calls have left the window, so a burst of waiters wakes one by one as
      -- the calls of the previous burst leave, instead of all at the first and retrying.
      local r = redis.call('ZRANK', sched, waiter) or 0
      local idx = nl - amount + r
      if idx >= nl then
        if slot > now then w = slot - now end
      elseif idx >= 0 then
        local e = redis.call('ZRANGE', log, idx, idx, 'WITHSCORES')
        w = tonumber(e[2]) + win - now
      end
      if w <= 0 and nl >= amount then
        local e = redis.call('ZRANGE', log, nl - amount, nl - amount, 'WITHSCORES')
        w = tonumber(e[2]) + win - now
      end
    end
    if w > wait then wait = w; why = 'over ' .. amount .. ' per ' .. ARGV[10 + i * 3] .. ' ms on ' .. k end
    limited[#limited + 1] = {k, amount, win}
  end
end
if slot > now and slot - now > wait then wait = slot - now; why = 'slot' end
local sec = math.floor(now / 1000)
if wait <= 0 then
  for _, l in ipairs(limited) do
    local log = p .. ':log:' .. l[1]
    redis.call('ZADD', log, now, mid .. ':' .. now)
    redis.call('PEXPIRE', log, l[3])
    -- Only a returning waiter (it holds a slot) has entries to clear: a first try skips the writes.
    if slot > 0 then redis.call('ZREM', p .. ':sched:' .. l[1], waiter) end
    if audit then
      local al = p .. ':audit:' .. l[1]
      redis.call('RPUSH', al, now)
      redis.call('LTRIM', al, -100000, -1)
      redis.call('EXPIRE', al, 3600)
    end
  end
  for i = 0, n - 1 do
    local k = ARGV[8 + i * 3]
    local hk = p .. ':hist:' .. k .. ':' .. math.floor(sec / 60)
    if redis.call('HINCRBY', hk, sec, 1) == 1 then redis.call('EXPIRE', hk, 3720) end
    if slot > 0 then redis.call('ZREM', p .. ':wait:' .. k, waiter) end
  end
  return {1, 0, 0, ''}
end
local newslot = slot
if slot == 0 and #limited > 0 then
  newslot = now + wait
  for _, l in ipairs(limited) do
    local sched = p .. ':sched:' .. l[1]
    redis.call('ZADD', sched, newslot, waiter)
    redis.call('PEXPIRE', sched, wait + l[3])
  end
end
for i = 0, n - 1 do
  local wk = p .. ':wait:' .. ARGV[8 + i * 3]
  redis.call('ZADD', wk, now + wait, waiter)
  redis.call('ZREMRANGEBYSCORE', wk, '-inf', now - 60000)
  redis.call('PEXPIRE', wk, wait + 60000)
end
return {0, wait, newslot, why}
"""

# A pause is a key with the pause's expiry (the acquire script reads it) and an entry in the index of pauses
# (score: its end, Redis's clock), so that an engine reads every live pause in one call.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
  redis.call('ZADD', KEYS[2], now + ms, ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', KEYS[2], math.max(1, tonumber(last[2]) - now)) end
return ttl
"""

_PAUSES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local e = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #e, 2 do
  out[#out + 1] = e[i]
  out[#out + 1] = tonumber(e[i + 1]) - now
end
return out
"""


def install_key(tenant_id: int | str, application: str) -> str:
    """The key of one tenant's install of an application (Orchesty's `user|application`)."""
    return f"{tenant_id}|{application}"


def group_key(application: str) -> str:
    """The key shared by every tenant's install of an application (a staff-set group limit)."""
    return f"|{application}"


@dataclass(frozen=True)
class Rate:
    """One key a call must pass: at most `amount` per `seconds` (amount 0: no rate, only pauses)."""

    key: str
    amount: int
    seconds: float


@dataclass(frozen=True)
class Decision:
    """The limiter's answer: run now, or wait `wait_ms` (and come back holding `slot`)."""

    admitted: bool
    wait_ms: int = 0
    slot: int = 0
    reason: str = ""


class LimiterUnavailable(Exception):
    """Redis cannot be reached: limited calls must not run (they would run unlimited)."""


def _prefix() -> str:
    return names.redis_key("limit")


def margin_ms() -> int:
    """Added to every window: covers the jitter between admission here and the call reaching the remote."""
    return int(settings.FLOWYARD_LIMITER_MARGIN_MS)


_SOURCES = {"acquire": _ACQUIRE, "pause": _PAUSE, "pauses": _PAUSES}
_scripts: dict[int, dict[str, redis.commands.core.Script]] = {}


def _script(name: str) -> redis.commands.core.Script:
    client = state.client()
    cached = _scripts.get(id(client))
    if cached is None:
        cached = {key: client.register_script(source) for key, source in _SOURCES.items()}
        _scripts[id(client)] = cached
    return cached[name]


def acquire(rates: list[Rate], *, member: str, waiter: str = "", slot: int = 0) -> Decision:
    """Admit one call on every key of `rates` atomically, or say how long to wait; raises LimiterUnavailable.

    `member` names this call in the log; `waiter` names the message while it waits (stable across its hops).
    """
    audit = "1" if settings.FLOWYARD_LIMITER_AUDIT else "0"
    args: list[str | int] = [_prefix(), member, waiter or member, int(slot), margin_ms(), len(rates), audit]
    for rate in rates:
        args += [rate.key, int(rate.amount), int(rate.seconds * 1000)]
    try:
        admitted, wait, new_slot, why = _script("acquire")(args=args)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise LimiterUnavailable(str(exc)) from exc
    reason = why.decode() if isinstance(why, bytes) else str(why)
    return Decision(bool(admitted), int(wait), int(new_slot), reason)


def pause(keys: list[str], seconds: float) -> None:
    """Refuse every call on `keys` for `seconds` (a remote asked us to back off); longer pauses win.

    Raises LimiterUnavailable. Engines hear of a pause at once over the control exchange (`limits.py`); this is
    the record that an engine starting later, or one that missed the notice, reads with `pauses`.
    """
    ms = max(1, int(seconds * 1000))
    try:
        for key in keys:
            _script("pause")(keys=[f"{_prefix()}:pause:{key}", f"{_prefix()}:pauses"], args=[ms, key])
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise LimiterUnavailable(str(exc)) from exc


def pauses() -> dict[str, int]:
    """Every live pause: key → milliseconds left. Raises LimiterUnavailable."""
    try:
        flat = _script("pauses")(keys=[f"{_prefix()}:pauses"])
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise LimiterUnavailable(str(exc)) from exc
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in flat[0::2]]
    return {key: int(left) for key, left in zip(keys, flat[1::2], strict=True)}


class _HookTimes:
    """Hook times waiting to be written to Redis by a thread of their own, a batch every FLUSH_SECONDS."""

    FLUSH_SECONDS = 0.2

    def __init__(self) -> None:
        self._pending: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def add(self, key: str, microseconds: int) -> None:
        with self._lock:
            self._pending.append((key, microseconds))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="limiter-audit", daemon=True)
                self._writer.start()

    def _write_forever(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            with self._lock:
                batch, self._pending = self._pending, []
            by_key: dict[str, list[int]] = {}
            for key, microseconds in batch:
                by_key.setdefault(key, []).append(microseconds)
            if not by_key:
                continue
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                pipe = state.client().pipeline(transaction=False)
                for key, values in by_key.items():
                    pipe.rpush(key, *values)
                    pipe.ltrim(key, -100_000, -1)
                    pipe.expire(key, 3600)
                pipe.execute()


_hook_times = _HookTimes()


def hook_timed(limited: bool, seconds: float) -> None:
    """Audit only: keep how long the engine's limiter hook took for one message (microseconds, the last 100,000
    per side for an hour), so a benchmark can tell the limiter's cost apart from the node's call around it. They
    are written in batches: a Redis write per message would load the engine being measured."""
    _hook_times.add(_hook_key(limited), int(seconds * 1_000_000))


def _hook_key(limited: bool) -> str:
    return f"{_prefix()}:audit:hook:{'limited' if limited else 'unlimited'}"


def hook_log(limited: bool) -> list[float]:
    """The hook times `hook_timed` kept, in milliseconds, oldest first."""
    time.sleep(_HookTimes.FLUSH_SECONDS * 2)  # the last batch written (here or in an engine, as often)
    return [int(v) / 1000 for v in state.client().lrange(_hook_key(limited), 0, -1)]  # type: ignore[union-attr]


def audit_log(key: str) -> list[float]:
    """Admission times (epoch seconds) of `key`, kept only with FLOWYARD_LIMITER_AUDIT (tests and benchmarks)."""
    return [int(v) / 1000 for v in state.client().lrange(f"{_prefix()}:audit:{key}", 0, -1)]  # type: ignore[union-attr]


def ping() -> bool:
    try:
        return bool(state.client().ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


@dataclass(frozen=True)
class Usage:
    """A key's state now: calls in the current window, messages waiting, and how long it stays paused."""

    used: int
    waiting: int
    paused_ms: int


def _now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()  # type: ignore[misc]
    return int(seconds) * 1000 + int(micros) // 1000


def usage(keys: list[tuple[str, float]]) -> dict[str, Usage]:
    """Live usage of `(key, seconds)` pairs for the pages; empty when Redis is unreachable."""
    if not keys:
        return {}
    client = state.client()
    try:
        now = _now_ms(client)
        pipe = client.pipeline(transaction=False)
        for key, seconds in keys:
            pipe.zcount(f"{_prefix()}:log:{key}", now - int(seconds * 1000), "+inf")
            pipe.zcount(f"{_prefix()}:wait:{key}", now - WAITING_STALE_MS, "+inf")
            pipe.pttl(f"{_prefix()}:pause:{key}")
        values = pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError):
        return {}
    out = {}
    for index, (key, _seconds) in enumerate(keys):
        used, waiting, ttl = values[index * 3 : index * 3 + 3]
        out[key] = Usage(int(used), int(waiting), max(0, int(ttl)))
    return out


def history(keys: list[str], *, seconds: int = HISTORY_SECONDS) -> tuple[list[int], dict[str, list[int]]]:
    """Calls per second of each key over the last `seconds`: (epoch seconds, {key: counts})."""
    client = state.client()
    try:
        now = _now_ms(client) // 1000
    except (redis.ConnectionError, redis.TimeoutError):
        now = int(time.time())
        return list(range(now - seconds + 1, now + 1)), {k: [0] * seconds for k in keys}
    start = now - seconds + 1
    minutes = range(start // 60, now // 60 + 1)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        for minute in minutes:
            pipe.hgetall(f"{_prefix()}:hist:{key}:{minute}")
    values = iter(pipe.execute())
    xs = list(range(start, now + 1))
    series: dict[str, list[int]] = {}
    for key in keys:
        counts: dict[int, int] = {}
        for _minute in minutes:
            for sec, count in next(values).items():
                counts[int(sec)] = int(count)
        series[key] = [counts.get(x, 0) for x in xs]
    return xs, series
