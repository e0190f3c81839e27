"""Browser walk through the topology pages: create, detail, publish/enable, history diff, import report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from admin_ui.models import Role
from tests.factories import make_member, make_tenant
from tests.topology.factories import valid_xml
from topology import services
from topology.models import Topology, TopologyVersion

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn"


@pytest.mark.django_db(transaction=True)
def test_topology_pages_end_to_end(page, live_server, login, screenshot):
    tenant = make_tenant("Pages Co")
    user = make_member(tenant, Role.OWNER, "pages@example.com")
    login(page, user)

    page.goto("/topologies/")
    expect(page.get_by_text("No topologies yet")).to_be_visible()
    screenshot(page, "topology-list-empty")

    page.get_by_test_id("new-topology").click()
    page.get_by_label("Name").fill("Order sync")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/topologies/\d+/versions/1/edit/$"))
    topology = Topology.objects.get(tenant=tenant, name="Order sync")

    # a second version with a change, so the history has something to compare
    version = services.topology_version_save(
        version=TopologyVersion.objects.get(topology=topology, number=1), bpmn_xml=valid_xml("Echo"), actor=user
    )
    services.topology_version_publish(version=version, actor=user)
    services.topology_version_save(version=version, bpmn_xml=valid_xml("Echo v2"), actor=user)

    page.goto(f"/topologies/{topology.pk}/")
    expect(page.get_by_test_id("topology-name")).to_have_text("Order sync")
    row = page.locator('[data-testid="versions-table"] tr[data-version="1"]')
    row.get_by_role("button", name="Enable").click()
    expect(page.get_by_test_id("enabled-version")).to_have_text("v1")
    screenshot(page, "topology-detail")

    page.goto(f"/topologies/{topology.pk}/versions/")
    page.get_by_test_id("diff-form").get_by_role("button", name="Compare").click()
    result = page.get_by_test_id("diff-result")
    expect(result).to_contain_text("Echo v2")
    screenshot(page, "topology-diff")

    page.goto("/topologies/")
    expect(page.get_by_test_id("topology-table")).to_contain_text("Enabled")
    screenshot(page, "topology-list")

    page.goto("/topologies/import/")
    page.get_by_label("BPMN file").set_input_files(str(FIXTURES / "boundary-events.bpmn"))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-result")).to_be_visible()
    expect(page.get_by_test_id("unsupported-table")).to_contain_text("bpmn:BoundaryEvent")
    expect(page.get_by_test_id("unsupported-table")).to_contain_text("watchdog")
    screenshot(page, "topology-import-report")

    # A file with several processes: the report says which one runs; another can be picked by id.
    page.get_by_label("BPMN file").set_input_files(str(FIXTURES / "multiple-diagrams.bpmn"))
    page.get_by_label("Process to run").fill("Small")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-process")).to_have_text("Small")
    expect(page.locator('[data-testid="import-processes"] tr[data-process="Small"]')).to_contain_text("runs")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "topology-import-processes-390")
