"""Build enabled topology versions for runtime tests from a compact spec (no BPMN needed)."""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from topology import services
from topology.models import Edge, Node, Topology, TopologyVersion

_seq = itertools.count(1)


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
    topology = Topology.objects.create(tenant=tenant, name=name or f"runtime-{next(_seq)}")
    version = TopologyVersion.objects.create(
        topology=topology,
        number=1,
        bpmn_xml="<definitions/>",
        status=TopologyVersion.Status.PUBLISHED,
        published_at=timezone.now(),
    )
    rows: dict[str, Node] = {}
    for key, value in nodes.items():
        kind, config, extra = (value, {}, {}) if isinstance(value, str) else ((*tuple(value), {}, {}))[:3]
        rows[key] = Node.objects.create(
            version=version,
            key=key,
            name=key,
            kind=kind,
            config=config,
            ordered=extra.get("ordered", False),
            prefetch=extra.get("prefetch", 10),
            retry=extra.get("retry", {}),
            install=extra.get("install"),
        )
    for index, spec in enumerate(edges):
        arrow, condition, default = (spec, "", False) if isinstance(spec, str) else ((*tuple(spec), None, False))[:3]
        source, target = arrow.split(">")
        Edge.objects.create(
            version=version,
            key=f"flow{index}",
            source=rows[source],
            target=rows[target],
            condition=condition or "",
            is_default=bool(default),
        )
    if enable:
        version_enable(version)
    return version


def version_enable(version: TopologyVersion) -> TopologyVersion:
    """Enable like the topology service does, then run the runtime hook (queues, cron, engines)."""
    TopologyVersion.objects.filter(topology=version.topology, enabled=True).exclude(pk=version.pk).update(enabled=False)
    version.enabled = True
    version.enabled_at = timezone.now()
    version.save(update_fields=["enabled", "enabled_at"])
    from topology.runtime.spec import build_version

    DECLARED_QUEUES.update(q for node in build_version(version).nodes.values() for q in node.queues())
    services.version_after_enable(version)
    return version


# Queues declared by version_enable in this test process, so the harness can delete them afterwards.
DECLARED_QUEUES: set[str] = set()
