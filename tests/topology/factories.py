"""Topology test helpers: BPMN built with the product's own builder, rows through the product's services."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from admin_ui.models import Application, ApplicationInstall, Tenant
from topology import services
from topology.bpmn.build import build_bpmn
from topology.models import Topology, TopologyVersion

# BPMN files written for these tests (pools, lanes, message flows, boundary events, Latin-1, …).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn"


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.bpmn"))


def linear_nodes(*middle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": "Start", "kind": "start.manual", "name": "Start"},
        *middle,
        {"id": "End", "kind": "end", "name": "End"},
    ]


def chain(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]


def valid_xml(name: str = "Echo") -> str:
    """start → python (flowyard.noop) → end: a diagram without validation errors."""
    nodes = linear_nodes({"id": "Py", "kind": "python", "name": name, "registry": "flowyard.noop"})
    return build_bpmn(nodes, chain(nodes))


def invalid_xml() -> str:
    """start → transform without expression → end: saved with an error, cannot be published."""
    nodes = linear_nodes({"id": "T", "kind": "transform", "name": "Map"})
    return build_bpmn(nodes, chain(nodes))


def make_topology(tenant: Tenant, actor: Any, name: str = "Orders", xml: str | None = None) -> Topology:
    return services.topology_create(tenant=tenant, name=name, actor=actor, bpmn_xml=xml or valid_xml())


def first_version(topology: Topology) -> TopologyVersion:
    return TopologyVersion.objects.get(topology=topology, number=1)


def make_install(tenant: Tenant, name: str = "Shop") -> ApplicationInstall:
    application, _ = Application.objects.get_or_create(key="generic-http", defaults={"name": "Generic HTTP"})
    return ApplicationInstall.objects.create(tenant=tenant, application=application, name=name)
