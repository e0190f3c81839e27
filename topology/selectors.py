"""Reads of topologies and versions, always scoped by tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from admin_ui.models import ApplicationInstall, Tenant
from topology.bpmn.diff import version_diff
from topology.models import Edge, Node, Topology, TopologyVersion


def topology_list(*, tenant: Tenant, search: str = "") -> QuerySet[Topology]:
    """Live topologies of a tenant with their enabled version, latest version and last change."""
    enabled = TopologyVersion.objects.filter(topology=OuterRef("pk"), enabled=True)
    qs = (
        Topology.objects.filter(tenant=tenant, deleted_at__isnull=True)
        .annotate(
            enabled_number=Subquery(enabled.values("number")[:1]),
            latest_number=Max("versions__number"),
            version_count=Count("versions"),
            last_change=Max("versions__updated_at"),
            draft_count=Count("versions", filter=Q(versions__status=TopologyVersion.Status.DRAFT)),
        )
        .order_by("name")
    )
    return topology_search(qs, search)


def topology_search(queryset: QuerySet[Topology], text: str) -> QuerySet[Topology]:
    """Topologies whose name or description contains `text` (all of them for an empty text)."""
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(Q(name__icontains=text) | Q(description__icontains=text))


def topology_get(*, tenant: Tenant | None, pk: int) -> Topology:
    """A live topology of the tenant, or 404 (also for other tenants' topologies)."""
    if tenant is None:
        raise Http404("No tenant.")
    topology = Topology.objects.filter(tenant=tenant, pk=pk, deleted_at__isnull=True).first()
    if topology is None:
        raise Http404("No such topology.")
    return topology


def version_get(*, topology: Topology, number: int) -> TopologyVersion:
    """One version of an (already tenant-checked) topology, or 404."""
    version = TopologyVersion.objects.filter(topology=topology, number=number).select_related("topology").first()
    if version is None:
        raise Http404("No such version.")
    return version


def version_nodes(*, version: TopologyVersion) -> QuerySet[Node]:
    return Node.objects.filter(version=version).order_by("key")


def version_edges(*, version: TopologyVersion) -> QuerySet[Edge]:
    return Edge.objects.filter(version=version).select_related("source", "target").order_by("key")


def version_list(*, topology: Topology) -> QuerySet[TopologyVersion]:
    return (
        TopologyVersion.objects.filter(topology=topology)
        .select_related("created_by")
        .annotate(node_count=Count("nodes", distinct=True))
        .order_by("-number")
    )


def version_latest(*, topology: Topology) -> TopologyVersion | None:
    return TopologyVersion.objects.filter(topology=topology).order_by("-number").first()


def version_enabled(*, topology: Topology) -> TopologyVersion | None:
    return TopologyVersion.objects.filter(topology=topology, enabled=True).first()


def topology_in_progress_count(*, topology: Topology) -> int:
    # Processes sit above topology in the layering: count them through the reverse relation, no import.
    return TopologyVersion.objects.filter(topology=topology, processes__status="in_progress").count()


def install_options(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Enabled application installs of a tenant, for the editor's connector picker."""
    return [
        {"id": install.pk, "name": install.name, "application": install.application.name}
        for install in ApplicationInstall.objects.filter(tenant=tenant, enabled=True)
        .select_related("application")
        .order_by("name")
    ]


def version_snapshot(*, version: TopologyVersion) -> dict[str, dict[str, Any]]:
    """A version's nodes with their outgoing edges, the input of the pure version diff."""
    nodes: dict[str, dict[str, Any]] = {}
    for node in Node.objects.filter(version=version).order_by("key"):
        nodes[node.key] = {"name": node.name, "kind": node.kind, "config": node.config or {}, "edges": set()}
    for edge in Edge.objects.filter(version=version).select_related("source", "target"):
        label = edge.target.key
        if edge.condition:
            label += f" [{edge.condition}]"
        if edge.is_default:
            label += " (default)"
        nodes[edge.source.key]["edges"].add(label)
    return nodes


def version_compare(*, topology: Topology, a: int, b: int) -> dict[str, Any]:
    """The diff between two versions of an (already tenant-checked) topology; 404 for an unknown number."""
    old = version_snapshot(version=version_get(topology=topology, number=a))
    new = version_snapshot(version=version_get(topology=topology, number=b))
    return version_diff(a=a, b=b, old=old, new=new)
