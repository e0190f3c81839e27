"""The engine's in-memory picture of the versions it runs, loaded from the database only on start and on change.

The hot path reads these objects and never the ORM: nodes, edges, compiled expressions, install credentials and
Python node instances are all prepared here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jmespath
from django.db.models import Q

from admin_ui.services import install_credentials
from processes.models import Process
from topology.models import TopologyVersion
from topology.runtime import names
from topology.runtime.registry import registry
from topology.runtime.retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class EdgeSpec:
    """An outgoing sequence flow, with its compiled JMESPath condition."""

    key: str
    target: str
    condition: str = ""
    compiled: Any = None
    is_default: bool = False


@dataclass
class NodeSpec:
    """Everything the engine needs to run one node without touching the database."""

    id: int
    key: str
    kind: str
    config: dict[str, Any]
    version: VersionSpec
    ordered: bool = False
    prefetch: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    followers: list[EdgeSpec] = field(default_factory=list)
    incoming: list[str] = field(default_factory=list)
    shards: int = 0
    credentials: dict[str, Any] | None = None
    instance: Any = None
    keep_payload: bool = False  # the node's `keepPayload`: its runs' payloads go to the recorder

    @property
    def base_queue(self) -> str:
        return names.node_queue(topology_id=self.version.topology_id, version=self.version.number, node_key=self.key)

    def queues(self) -> list[str]:
        if self.shards:
            return [
                names.node_queue(
                    topology_id=self.version.topology_id, version=self.version.number, node_key=self.key, shard=i
                )
                for i in range(self.shards)
            ]
        return [self.base_queue]

    def queue_arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {"x-queue-type": "quorum"}
        if self.ordered or self.shards:
            # One consumer across all engines keeps the order; the others stand by.
            args["x-single-active-consumer"] = True
        return args

    @property
    def effective_prefetch(self) -> int:
        return 1 if (self.ordered or self.shards) else max(1, min(100, self.prefetch))

    def routing_key(self, body: bytes) -> str:
        """The queue a message for this node goes to: the shard chosen by a hash of its ordering key."""
        if not self.shards:
            return self.base_queue
        try:
            value = jmespath.search(self.config.get("orderingKey", ""), json.loads(body)) if body else None
        except (ValueError, jmespath.exceptions.JMESPathError):
            value = None
        digest = hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).digest()
        return self.queues()[int.from_bytes(digest[:4], "big") % self.shards]


@dataclass
class VersionSpec:
    """An enabled (or draining) topology version and its nodes."""

    id: int
    number: int
    topology_id: int
    topology_name: str
    tenant_id: int
    enabled: bool
    nodes: dict[str, NodeSpec] = field(default_factory=dict)


@dataclass
class RuntimeSpec:
    """All versions one engine knows, indexed by queue, plus event subscriptions for publish nodes."""

    versions: dict[int, VersionSpec] = field(default_factory=dict)
    by_queue: dict[str, NodeSpec] = field(default_factory=dict)
    consume: list[str] = field(default_factory=list)
    events: dict[tuple[int, str], list[NodeSpec]] = field(default_factory=dict)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _credentials(install: Any) -> dict[str, Any]:
    """Install settings and secrets merged into one dict."""
    return install_credentials(install=install)


def _python_instance(node: NodeSpec) -> Any:
    name = node.config.get("registry") or node.config.get("name") or ""
    try:
        cls = registry.get(str(name))
    except KeyError:
        log.error("node %s: python node %r is not registered", node.key, name)
        return None
    return cls(node.config)


def build_version(version: Any, *, runnable: bool = True) -> VersionSpec:
    """Turn a TopologyVersion with its nodes and edges into a VersionSpec (the only ORM work of the engine).

    `runnable=False` leaves out install credentials and Python node instances: enough to route messages and run
    built-in kinds (a start's step in the web process), without decrypting secrets or running user code there.
    """
    spec = VersionSpec(
        id=version.pk,
        number=version.number,
        topology_id=version.topology_id,
        topology_name=version.topology.name,
        tenant_id=version.topology.tenant_id,
        enabled=version.enabled,
    )
    by_pk: dict[int, NodeSpec] = {}
    for row in version.nodes.all().select_related("install", "install__application"):
        config = dict(row.config or {})
        shards = int(config.get("shards") or 0) if config.get("orderingKey") else 0
        node = NodeSpec(
            id=row.pk,
            key=row.key,
            kind=row.kind,
            config=config,
            version=spec,
            ordered=row.ordered or _truthy(config.get("ordered")),
            prefetch=int(config.get("prefetch") or row.prefetch or 10),
            retry=RetryPolicy.from_config(row.retry),
            shards=max(0, shards),
            keep_payload=_truthy(config.get("keepPayload")),
        )
        if runnable and row.install is not None:
            node.credentials = _credentials(row.install)
        if runnable and row.kind in ("python", "batch") and not config.get("url"):
            node.instance = _python_instance(node)
        spec.nodes[row.key] = node
        by_pk[row.pk] = node
    for edge in version.edges.all().order_by("id"):
        source, target = by_pk.get(edge.source_id), by_pk.get(edge.target_id)
        if source is None or target is None:
            continue
        compiled = None
        if edge.condition.strip():
            try:
                compiled = jmespath.compile(edge.condition)
            except jmespath.exceptions.JMESPathError:
                log.error("edge %s: invalid condition %r", edge.key, edge.condition)
        source.followers.append(
            EdgeSpec(
                key=edge.key, target=target.key, condition=edge.condition, compiled=compiled, is_default=edge.is_default
            )
        )
        target.incoming.append(source.key)
    return spec


_specs: dict[tuple[Any, ...], tuple[float, VersionSpec]] = {}
_specs_lock = threading.Lock()
SPEC_CACHE_SECONDS = 30.0


def cached_version_spec(version: Any) -> VersionSpec:
    """A non-runnable spec of `version` for starts, kept for a while: a published version's nodes never change.

    Keyed by the row's identity and its enabling time, so a re-enabled version, or a new row that got an old id
    (a test database flushed between tests), is read afresh.
    """
    key = (version.pk, version.topology_id, version.number, getattr(version, "enabled_at", None))
    now = time.monotonic()
    with _specs_lock:
        hit = _specs.get(key)
    if hit is not None and now - hit[0] < SPEC_CACHE_SECONDS:
        return hit[1]
    spec = build_version(version, runnable=False)
    with _specs_lock:
        if len(_specs) > 1000:
            _specs.clear()
        _specs[key] = (now, spec)
    return spec


def load_runtime(*, topology: str | None = None, node: str | None = None) -> RuntimeSpec:
    """Load enabled versions, and disabled ones whose processes are still running so their queues drain."""
    running = Process.objects.filter(status=Process.Status.IN_PROGRESS).values("version_id")
    versions = (
        TopologyVersion.objects.filter(
            Q(enabled=True) | Q(enabled_at__isnull=False, pk__in=running), topology__deleted_at__isnull=True
        )
        .select_related("topology")
        .order_by("id")
    )
    runtime = RuntimeSpec()
    for version in versions:
        spec = build_version(version)
        runtime.versions[spec.id] = spec
        for node_spec in spec.nodes.values():
            for queue in node_spec.queues():
                runtime.by_queue[queue] = node_spec
                if (topology is None or spec.topology_name == topology) and (node is None or node_spec.key == node):
                    runtime.consume.append(queue)
            if spec.enabled and node_spec.kind == "start.event" and node_spec.config.get("event"):
                runtime.events.setdefault((spec.tenant_id, str(node_spec.config["event"])), []).append(node_spec)
    return runtime
