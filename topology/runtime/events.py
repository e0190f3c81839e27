"""Progress events: what one node run reports to the recorder, and the batch an engine publishes.

One `NodeRun` per consumed message (plus one per built-in node run in the same step). The recorder counts
`emitted` into `Process.total` and each run into `Process.done`; a process is finished when done == total.
On the wire a batch is JSON with the same full field names, fields at their defaults left out (`EventBatch.encode` /
`EventBatch.decode`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ProcessStart:
    """A process that begins with this run: the recorder creates its row if no start service wrote it."""

    correlation_id: str
    tenant_id: int
    version_id: int
    started_at: float  # epoch seconds
    # Messages that entered the process from outside with the start (the start message itself); 0 when the
    # emitting run counts them in its own `emitted` (an event start published by a node).
    messages: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "correlation_id": self.correlation_id,
            "tenant_id": self.tenant_id,
            "version_id": self.version_id,
            "started_at": self.started_at,
            "messages": self.messages,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ProcessStart:
        return cls(
            correlation_id=str(data["correlation_id"]),
            tenant_id=int(data["tenant_id"]),
            version_id=int(data["version_id"]),
            started_at=float(data["started_at"]),
            messages=int(data.get("messages", 0)),
        )


@dataclass(slots=True)
class TrashRecord:
    """A message that cannot go on: the recorder writes it to the trash."""

    tenant_id: int
    version_id: int
    node_id: int
    node_key: str
    correlation_id: str
    process_id: str
    message_id: str
    headers: dict[str, str]
    body: str
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "version_id": self.version_id,
            "node_id": self.node_id,
            "node_key": self.node_key,
            "correlation_id": self.correlation_id,
            "process_id": self.process_id,
            "message_id": self.message_id,
            "headers": self.headers,
            "body": self.body,
            "reason": self.reason,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TrashRecord:
        return cls(
            tenant_id=int(data["tenant_id"]),
            version_id=int(data["version_id"]),
            node_id=int(data["node_id"]),
            node_key=str(data["node_key"]),
            correlation_id=str(data["correlation_id"]),
            process_id=str(data.get("process_id", "")),
            message_id=str(data["message_id"]),
            headers=dict(data.get("headers") or {}),
            body=str(data.get("body", "")),
            reason=str(data["reason"]),
        )


@dataclass(slots=True)
class NodeRun:
    """One message through one node: the timeline row, the counts it adds, and what it trashed or started."""

    correlation_id: str
    message_id: str
    tenant_id: int
    version_id: int
    node_id: int
    node_key: str
    result_code: int
    result_message: str
    started_at: float  # epoch seconds
    duration_ms: float
    # The run whose output this run consumed (same process; empty for a start): counted first.
    emitted_by: str = ""
    # When the recorder first put this run back because the run that emitted it was not recorded yet.
    deferred_at: float = 0.0
    # Messages published by this run, per correlation id (an event start emits into another process).
    emitted: dict[str, int] = field(default_factory=dict)
    failed: bool = False
    redelivered: bool = False
    trash: TrashRecord | None = None
    starts: list[ProcessStart] = field(default_factory=list)
    # Input and output bodies, capped, of `keepPayload` nodes only (payloads can hold personal data).
    payload: dict[str, Any] | None = None
    # A start step's run reported by the engine that consumed one of the step's messages: every message of the
    # step carries it (a fan-out's branches each), so seeing it again is no redelivery (never a duplicate).
    carried: bool = False

    @property
    def emitted_total(self) -> int:
        return sum(self.emitted.values())

    def to_wire(self) -> dict[str, Any]:
        # Fields at their defaults stay off the wire (`from_wire` restores them): most runs are plain successes,
        # and every byte of a batch is encoded by the engine, stored by a quorum queue and parsed by the recorder.
        data: dict[str, Any] = {
            "correlation_id": self.correlation_id,
            "message_id": self.message_id,
            "tenant_id": self.tenant_id,
            "version_id": self.version_id,
            "node_id": self.node_id,
            "node_key": self.node_key,
            "result_code": self.result_code,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.emitted_by:
            data["emitted_by"] = self.emitted_by
        if self.deferred_at:
            data["deferred_at"] = self.deferred_at
        if self.result_message:
            data["result_message"] = self.result_message[:1000]
        if self.emitted:
            data["emitted"] = self.emitted
        if self.failed:
            data["failed"] = True
        if self.redelivered:
            data["redelivered"] = True
        if self.trash is not None:
            data["trash"] = self.trash.to_wire()
        if self.starts:
            data["starts"] = [s.to_wire() for s in self.starts]
        if self.payload:
            data["payload"] = self.payload
        if self.carried:
            data["carried"] = True
        return data

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> NodeRun:
        trash = data.get("trash")
        return cls(
            correlation_id=str(data["correlation_id"]),
            message_id=str(data["message_id"]),
            emitted_by=str(data.get("emitted_by", "")),
            deferred_at=float(data.get("deferred_at", 0.0)),
            tenant_id=int(data["tenant_id"]),
            version_id=int(data["version_id"]),
            node_id=int(data["node_id"]),
            node_key=str(data["node_key"]),
            result_code=int(data["result_code"]),
            result_message=str(data.get("result_message", "")),
            started_at=float(data["started_at"]),
            duration_ms=float(data.get("duration_ms", 0)),
            emitted={str(k): int(v) for k, v in (data.get("emitted") or {}).items()},
            failed=bool(data.get("failed")),
            redelivered=bool(data.get("redelivered")),
            trash=TrashRecord.from_wire(trash) if trash else None,
            starts=[ProcessStart.from_wire(s) for s in data.get("starts") or []],
            payload=data.get("payload") or None,
            carried=bool(data.get("carried")),
        )


@dataclass(slots=True)
class EventBatch:
    """The runs one engine (or start) reports in one events message, in the order they happened."""

    engine: str
    runs: list[NodeRun]
    # Processes to create before any run is counted (a start whose first node the engine runs itself).
    starts: list[ProcessStart] = field(default_factory=list)

    def encode(self) -> bytes:
        data: dict[str, Any] = {"engine": self.engine, "runs": [r.to_wire() for r in self.runs]}
        if self.starts:
            data["starts"] = [s.to_wire() for s in self.starts]
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> EventBatch:
        """Parse a batch; raises ValueError (or KeyError/TypeError wrapped in it) on a malformed one."""
        data = json.loads(body)
        try:
            return cls(
                engine=str(data.get("engine", "")),
                runs=[NodeRun.from_wire(r) for r in data["runs"]],
                starts=[ProcessStart.from_wire(s) for s in data.get("starts") or []],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed event batch: {exc!r}") from exc


def encode_runs(runs: list[NodeRun]) -> str:
    """Runs carried in a message header (a start's runs ride on its first message; see `starts.py`)."""
    return json.dumps([r.to_wire() for r in runs])


def decode_runs(value: str) -> list[NodeRun]:
    try:
        return [NodeRun.from_wire(r) for r in json.loads(value)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
