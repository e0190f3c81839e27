"""Python nodes used by the runtime tests (the engine subprocesses import this via FLOWYARD_NODE_MODULES)."""

from __future__ import annotations

import json
import os
import time

from topology.runtime import names, state
from topology.runtime.errors import RetryableError
from topology.runtime.registry import node
from topology.runtime.sdk import Message, Node, Result


def record_key(correlation_id: str, name: str) -> str:
    """A test node's Redis key, under the module's own prefix (other test runs on the machine clean up theirs)."""
    return names.redis_key("fytest", correlation_id, name)


def _key(message: Message, name: str) -> str:
    return record_key(message.headers.get("correlation-id", ""), name)


@node("test.answer")
class Answer(Node):
    """Answers with the result code (and headers) given in the body: {"code": 1003, ...}."""

    def process(self, message: Message) -> Result:
        data = message.json() or {}
        code = int(data.get("code", 0))
        if code == 1001 and "succeed_after" in data:
            # Nodes never see repeat-hops (the engine counts them), so count calls here.
            calls = state.client().incr(_key(message, "answer"))
            if calls > int(data["succeed_after"]):
                return Result(body={"repeated": calls - 1})
        headers = {str(k): str(v) for k, v in (data.get("headers") or {}).items()}
        return Result(
            code=code, headers=headers, message=str(data.get("message", "")), forward_to=data.get("forward_to")
        )


@node("test.record")
class Record(Node):
    """Appends the JSON body's `seq` (and `key`) to a Redis list per correlation id, in processing order."""

    def process(self, message: Message) -> Result:
        data = message.json() or {}
        entry = json.dumps([data.get("key"), data.get("seq")])
        state.client().rpush(_key(message, self.config.get("list", "seen")), entry)
        return Result()


@node("test.flaky")
class Flaky(Node):
    """Fails (retryable) until it has been called `fail_times` times for this correlation id."""

    def process(self, message: Message) -> Result:
        calls = state.client().incr(_key(message, "flaky"))
        if calls <= int(self.config.get("fail_times", 2)):
            raise RetryableError(f"flaky failure {calls}", kind="5xx")
        return Result(body={"calls": calls})


@node("test.pages")
class Pages(Node):
    """A batch node: three pages of two items, cursor 1 -> 2 -> 3."""

    def process(self, message: Message) -> Result:
        page = int(message.headers.get("cursor") or 1)
        items = [{"page": page, "item": i} for i in range(2)]
        if page < 3:
            return Result.batch(items, cursor=str(page + 1))
        return Result.batch(items)


@node("test.crash")
class Crash(Node):
    """Kills the engine process outright when the body says {"poison": true} (a poison message)."""

    def process(self, message: Message) -> Result:
        if (message.json() or {}).get("poison"):
            os._exit(3)
        return Result()


@node("test.slow")
class Slow(Node):
    """Takes `ms` (config, default 50) per message and records how many of its calls ran at once when it began."""

    def process(self, message: Message) -> Result:
        client = state.client()
        active = _key(message, "slow-active")
        client.rpush(_key(message, "slow-concurrency"), client.incr(active))
        time.sleep(int(self.config.get("ms", 50)) / 1000)
        client.decr(active)
        return Result()
