"""SDK for Python nodes: subclass `Node`, register it with `@node("name")`, answer with a `Result`.

Example (a node that adds a greeting and stops empty messages)::

    from topology.runtime.registry import node
    from topology.runtime.sdk import Message, Node, Result


    @node("acme.greet")
    class Greet(Node):
        # A one-line docstring here becomes the description shown in the editor.

        def process(self, message: Message) -> Result:
            data = message.json()
            if not data:
                return Result.stop("nothing to greet")
            data["greeting"] = f"Hello {data.get('name', 'world')}"
            return Result(body=data)

A node instance is created once per engine and version and is called from several worker threads at once:
keep per-message state in locals. `message.message_id` is stable across redeliveries (use it for idempotency).
Raise `RetryableError` for transient failures (retried by the node's policy) and `TrashError` for permanent ones.
A batch node returns `Result.batch(items, cursor=...)`: the engine emits the items to the followers and calls
the node again with the `cursor` header until a result without a cursor arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from topology.runtime.errors import NodeError, RetryableError, TrashError
from topology.runtime.results import ResultCode

__all__ = ["Message", "Node", "NodeError", "Result", "ResultCode", "RetryableError", "TrashError"]


@dataclass
class Message:
    """A message as a node sees it: body bytes, Flowyard headers (strings) and a stable message id."""

    body: bytes
    headers: dict[str, str]
    message_id: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body); a malformed body raises TrashError."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise TrashError(f"body is not valid JSON: {exc}") from exc


@dataclass
class Result:
    """A node's answer; `body=None` passes the input body on unchanged."""

    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    code: int = ResultCode.OK
    message: str = ""
    forward_to: list[str] | None = None
    cursor: str | None = None
    items: list[Result] | None = None

    @classmethod
    def stop(cls, message: str = "") -> Result:
        return cls(code=ResultCode.STOP_OK, message=message)

    @classmethod
    def fail(cls, message: str) -> Result:
        return cls(code=ResultCode.STOP_FAIL, message=message)

    @classmethod
    def repeat(cls, *, interval_ms: int = 1000, max_hops: int = 10, message: str = "") -> Result:
        headers = {"repeat-interval": str(interval_ms), "repeat-max-hops": str(max_hops)}
        return cls(code=ResultCode.REPEAT, headers=headers, message=message)

    @classmethod
    def forward(cls, *node_keys: str, body: Any = None) -> Result:
        return cls(code=ResultCode.FORWARD, forward_to=list(node_keys), body=body)

    @classmethod
    def batch(cls, items: list[Any], *, cursor: str | None = None, emit: bool = True) -> Result:
        """Items to emit; with a cursor the node is called again (1010, or 1011 when `emit` is False)."""
        wrapped = [item if isinstance(item, Result) else Result(body=item) for item in items]
        if cursor is None:
            return cls(items=wrapped)
        code = ResultCode.BATCH_CURSOR if emit else ResultCode.BATCH_CURSOR_ONLY
        return cls(items=wrapped, cursor=cursor, code=code)


class Node:
    """Base class of Python nodes: override `process`; `config` holds the node's Flowyard attributes."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config or {}

    def process(self, message: Message) -> Result:
        raise NotImplementedError
