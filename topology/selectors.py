"""Reads of topologies and versions, always scoped by tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Func, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from admin_ui.models import ApplicationInstall, Tenant
from topology.bpmn.diff import version_diff
from topology.models import Edge, Node, Topology, TopologyVersion

# Version columns no list shows: the diagram and the problem lists can be megabytes per row.
HEAVY_VERSION_FIELDS = ("bpmn_xml", "errors", "unsupported")
# How many problems of the latest version the topology page lists (the editor shows them all).
PAGE_ERRORS = 50


class JSONArrayLength(Func):
    """The length of a JSON array column, computed by the database (SQLite and PostgreSQL)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra)


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
    """Versions newest first, without their XML or problem lists; node, error and unsupported counts annotated."""
    node_count = (
        Node.objects.filter(version=OuterRef("pk")).order_by().values("version").annotate(n=Count("pk")).values("n")
    )
    return (
        TopologyVersion.objects.filter(topology=topology)
        .defer(*HEAVY_VERSION_FIELDS)
        .select_related("created_by")
        .annotate(
            node_count=Coalesce(Subquery(node_count, output_field=IntegerField()), Value(0)),
            error_count=Coalesce(JSONArrayLength("errors"), Value(0)),
            unsupported_count=Coalesce(JSONArrayLength("unsupported"), Value(0)),
        )
        .order_by("-number")
    )


def version_errors(*, version: TopologyVersion, limit: int = PAGE_ERRORS) -> list[dict[str, Any]]:
    """The first `limit` problems of one version (its errors column, read for this one row only)."""
    errors = TopologyVersion.objects.filter(pk=version.pk).values_list("errors", flat=True).first() or []
    return list(errors[:limit])


def version_latest(*, topology: Topology) -> TopologyVersion | None:
    return TopologyVersion.objects.filter(topology=topology).defer(*HEAVY_VERSION_FIELDS).order_by("-number").first()


def version_enabled(*, topology: Topology) -> TopologyVersion | None:
    return TopologyVersion.objects.filter(topology=topology, enabled=True).defer(*HEAVY_VERSION_FIELDS).first()


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
