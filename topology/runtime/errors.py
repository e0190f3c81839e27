"""Errors node code raises: retryable ones go through the node's retry policy, the rest go to trash."""

from __future__ import annotations


class NodeError(Exception):
    """A node failed; `kind` classifies the failure for the retry policy's `retry_on`."""

    retryable = False

    def __init__(
        self, reason: str, *, kind: str = "error", response: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.response = response
        # Seconds a remote 429/503 asked us to wait (Retry-After): the limiter pauses the key for that long.
        self.retry_after = retry_after


class RetryableError(NodeError):
    """A transient failure (5xx, 408, 429, connection, timeout): retried by policy, then trash."""

    retryable = True


class TrashError(NodeError):
    """A permanent failure (4xx, bad answer, bad config): the message goes to trash at once."""
