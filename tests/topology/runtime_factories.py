"""Build enabled topology versions for runtime tests from a compact spec, through the topology services.

The spec becomes BPMN (`topology.bpmn.build`), then is created, validated, published and enabled exactly as the
editor's save path does, so a runtime test runs what a user could have drawn (defaults included).
"""

from __future__ import annotations

import itertools
from typing import Any

from django.db import transaction

from topology import services
from topology.bpmn.build import build_bpmn
from topology.bpmn.parse import RETRY_ATTRS
from topology.models import TopologyVersion
from topology.runtime.spec import build_version

_seq = itertools.count(1)
# The runtime's retry keys back to the node attributes the editor stores them in.
_RETRY_ATTRS = {key: attr for attr, key in RETRY_ATTRS.items()}


def _node(key: str, value: Any) -> dict[str, Any]:
    kind, config, extra = (value, {}, {}) if isinstance(value, str) else ((*tuple(value), {}, {}))[:3]
    node: dict[str, Any] = {"id": key, "kind": kind, "name": key, **config}
    if "ordered" in extra:
        node["ordered"] = extra["ordered"]
    if "prefetch" in extra:
        node["prefetch"] = extra["prefetch"]
    if extra.get("install") is not None:
        node["install"] = extra["install"].pk
    for retry_key, value in (extra.get("retry") or {}).items():
        node[_RETRY_ATTRS[retry_key]] = ",".join(value) if isinstance(value, list | tuple) else value
    return node


def _edge(index: int, spec: Any) -> dict[str, Any]:
    arrow, condition, default = (spec, "", False) if isinstance(spec, str) else ((*tuple(spec), None, False))[:3]
    source, target = arrow.split(">")
    return {"id": f"flow{index}", "source": source, "target": target, "condition": condition or "", "default": default}


def make_runtime_version(
    tenant: Any,
    nodes: dict[str, Any],
    edges: list[Any],
    *,
    name: str | None = None,
    enable: bool = True,
) -> TopologyVersion:
    """nodes: {key: kind | (kind, config) | (kind, config, {ordered, prefetch, retry, install})};
    edges: ["a>b", ("router>x", "amount > `10`"), ("router>y", None, True)] (condition, is_default)."""
    xml = build_bpmn([_node(k, v) for k, v in nodes.items()], [_edge(i, e) for i, e in enumerate(edges)])
    topology = services.topology_create(tenant=tenant, name=name or f"runtime-{next(_seq)}", actor=None, bpmn_xml=xml)
    version = TopologyVersion.objects.get(topology=topology, number=1)
    assert not version.errors, version.errors  # a runtime test runs only what the editor would let a user publish
    version = services.topology_version_publish(version=version, actor=None)
    return version_enable(version) if enable else version


def version_enable(version: TopologyVersion) -> TopologyVersion:
    """Enable through the topology service, then run its after-commit hook (queues, cron, engines) right away."""
    version = services.topology_version_enable(version=version, actor=None)
    DECLARED_QUEUES.update(q for node in build_version(version).nodes.values() for q in node.queues())
    if transaction.get_connection().in_atomic_block:  # a test's own transaction never commits: run the hook now
        services.version_after_enable(version)
    return version


# Queues declared by version_enable in this test process, so the harness can delete them afterwards.
DECLARED_QUEUES: set[str] = set()


def enabled_without_queues(tenant: Any, start_kind: str, *, name: str = "orders") -> TopologyVersion:
    """`start -> end` marked enabled without declaring its queues: the start's step runs the end too, so a start
    publishes only its events, and a refused start reaches nothing."""
    version = make_runtime_version(tenant, {"start": start_kind, "end": "end"}, ["start>end"], name=name, enable=False)
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    version.refresh_from_db()
    return version
