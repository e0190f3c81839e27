"""Demo data for `make run`: the demo account and its example topology "Order sync", published and enabled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from admin_ui.models import Tenant
from admin_ui.seed import DEMO_EMAIL, seed_demo_account
from topology import services
from topology.bpmn.build import build_bpmn
from topology.models import Topology, TopologyVersion

EXAMPLE_NAME = "Order sync"


@dataclass
class SeedResult:
    tenant: Tenant
    email: str


@transaction.atomic
def seed_demo() -> SeedResult:
    """The demo tenant, its owner and the example topology; safe to run again."""
    tenant, user = seed_demo_account()
    seed_example_topology(tenant=tenant, actor=user)
    return SeedResult(tenant=tenant, email=DEMO_EMAIL)


def example_bpmn() -> str:
    """Manual start → transform → Python node → end, with a diagram bpmn-js can render."""
    return build_bpmn(
        [
            {"id": "StartEvent_orders", "kind": "start.manual", "name": "New orders"},
            {
                "id": "Transform_normalise",
                "kind": "transform",
                "name": "Normalise order",
                "expression": "{id: id, customer: customer.name, total: total}",
            },
            {"id": "Python_sync", "kind": "python", "name": "Sync order", "registry": "flowyard.noop", "prefetch": 10},
            {"id": "EndEvent_done", "kind": "end", "name": "Done"},
        ],
        [
            {"id": "Flow_1", "source": "StartEvent_orders", "target": "Transform_normalise"},
            {"id": "Flow_2", "source": "Transform_normalise", "target": "Python_sync"},
            {"id": "Flow_3", "source": "Python_sync", "target": "EndEvent_done"},
        ],
        process_id="Process_order_sync",
        process_name=EXAMPLE_NAME,
    )


def seed_example_topology(*, tenant: Tenant, actor: Any) -> Topology:
    """Create (once) the example topology; publish and enable it if its diagram is valid."""
    topology = Topology.objects.filter(tenant=tenant, name=EXAMPLE_NAME, deleted_at__isnull=True).first()
    if topology is None:
        topology = services.topology_create(
            tenant=tenant,
            name=EXAMPLE_NAME,
            actor=actor,
            description="Example: normalise incoming orders and hand them to a Python node.",
            bpmn_xml=example_bpmn(),
        )
    version = TopologyVersion.objects.filter(topology=topology).order_by("number").first()
    if version is None or TopologyVersion.objects.filter(topology=topology, enabled=True).exists():
        return topology
    if version.is_draft and not version.errors:
        version = services.topology_version_publish(version=version, actor=actor)
    if not version.is_draft:
        services.topology_version_enable(version=version, actor=actor)
    return topology
