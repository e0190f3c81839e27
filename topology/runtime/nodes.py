"""Built-in Python nodes, available to every topology through the registry."""

from __future__ import annotations

from topology.runtime.registry import node
from topology.runtime.sdk import Message, Node, Result


@node("flowyard.noop")
class Noop(Node):
    """Passes the message on unchanged."""

    def process(self, message: Message) -> Result:
        return Result()


@node("flowyard.echo")
class Echo(Node):
    """Returns the body and adds an `echo` header with the node's message id."""

    def process(self, message: Message) -> Result:
        return Result(body=message.body, headers={"echo": message.message_id})


@node("flowyard.fail")
class Fail(Node):
    """Stops the branch and sends the message to trash (result 1006) with the configured message."""

    def process(self, message: Message) -> Result:
        return Result.fail(str(self.config.get("message", "failed on purpose")))
