"""Topology pages: list, create, detail, rename, clone, delete, history, diff, editor, import, export."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from admin_ui.models import Role
from processes.models import Process
from tests.topology.factories import FIXTURES, first_version, fixture_files, make_topology, valid_xml
from topology import services
from topology.bpmn.parse import decode_xml
from topology.models import Topology, TopologyVersion

pytestmark = pytest.mark.django_db


def test_list_shows_status_search_and_empty_state(alice_client, tenant_a, alice, tenant_b, bob):
    empty = alice_client.get(reverse("topology_list"))
    assert b"No topologies yet" in empty.content and b"Create your first topology" in empty.content
    enabled = make_topology(tenant_a, alice, "Orders")
    version = services.topology_version_publish(version=first_version(enabled), actor=alice)
    services.topology_version_enable(version=version, actor=alice)
    make_topology(tenant_a, alice, "Invoices")
    make_topology(tenant_b, bob, "Bob secret")
    page = alice_client.get(reverse("topology_list")).content.decode()
    assert "Orders" in page and "Invoices" in page and "Bob secret" not in page
    assert "badge-enabled" in page and "v1" in page and "badge-draft" in page
    searched = alice_client.get(reverse("topology_list"), {"q": "inv"}).content.decode()
    assert "Invoices" in searched and "Orders" not in searched
    assert b"No topology matches" in alice_client.get(reverse("topology_list"), {"q": "zzz"}).content


def test_create_opens_the_editor(alice_client, tenant_a):
    response = alice_client.post(reverse("topology_create"), {"name": "Sync", "description": ""})
    topology = Topology.objects.get(tenant=tenant_a, name="Sync")
    assert response.status_code == 302 and response["Location"] == reverse("topology_editor", args=[topology.pk, 1])
    again = alice_client.post(reverse("topology_create"), {"name": "Sync"})
    assert again.status_code == 200 and b"already exists" in again.content
    assert Topology.objects.filter(tenant=tenant_a, name="Sync").count() == 1


def test_detail_shows_versions_and_runtime_actions(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Orders")
    page = alice_client.get(reverse("topology_detail", args=[topology.pk])).content.decode()
    assert 'data-testid="versions-table"' in page and "Publish" in page
    assert 'data-testid="runtime-actions"' in page  # the runtime work's partial is included when it exists


def test_page_actions_publish_enable_disable(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    args = [topology.pk, 1]
    assert alice_client.post(reverse("topology_version_publish", args=args)).status_code == 302
    alice_client.post(reverse("topology_version_enable", args=args), {"next": "https://evil.example/"})
    version = first_version(topology)
    assert version.status == "published" and version.enabled
    response = alice_client.post(
        reverse("topology_version_disable", args=args), {"next": reverse("topology_versions", args=[topology.pk])}
    )
    assert response["Location"] == reverse("topology_versions", args=[topology.pk])
    assert not first_version(topology).enabled
    assert alice_client.get(reverse("topology_version_publish", args=args)).status_code == 405


def test_publish_with_errors_shows_a_message(alice_client, tenant_a, alice):
    from tests.topology.factories import invalid_xml

    topology = make_topology(tenant_a, alice, xml=invalid_xml())
    response = alice_client.post(reverse("topology_version_publish", args=[topology.pk, 1]), follow=True)
    assert b"before publishing" in response.content
    assert first_version(topology).status == "draft"


def test_rename_clone_and_delete(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Orders")
    alice_client.post(reverse("topology_rename", args=[topology.pk]), {"name": "Orders EU", "description": "x"})
    topology.refresh_from_db()
    assert topology.name == "Orders EU"
    alice_client.post(reverse("topology_clone", args=[topology.pk]), {"name": "Orders US"})
    assert Topology.objects.filter(tenant=tenant_a, name="Orders US").exists()

    version = first_version(topology)
    Process.objects.create(tenant=tenant_a, version=version, correlation_id="run-1", started_at=timezone.now())
    refused = alice_client.post(reverse("topology_delete", args=[topology.pk]), {})
    assert refused.status_code == 200 and b"still in progress" in refused.content
    topology.refresh_from_db()
    assert topology.deleted_at is None
    done = alice_client.post(reverse("topology_delete", args=[topology.pk]), {"force": "on"})
    assert done.status_code == 302
    topology.refresh_from_db()
    assert topology.deleted_at is not None
    assert alice_client.get(reverse("topology_detail", args=[topology.pk])).status_code == 404


def test_history_and_diff_pages(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    v1 = services.topology_version_publish(version=first_version(topology), actor=alice)
    services.topology_version_save(version=v1, bpmn_xml=valid_xml("Changed <b>name</b>"), actor=alice)
    history = alice_client.get(reverse("topology_versions", args=[topology.pk])).content.decode()
    assert 'data-testid="diff-form"' in history and 'data-version="2"' in history and 'data-version="1"' in history
    diff = alice_client.get(reverse("topology_version_diff", args=[topology.pk]), {"a": 1, "b": 2}).content.decode()
    assert 'data-testid="diff-result"' in diff
    assert "Changed &lt;b&gt;name&lt;/b&gt;" in diff and "<b>name</b>" not in diff
    bad = alice_client.get(reverse("topology_version_diff", args=[topology.pk]), {"a": 1, "b": 99})
    assert b"Choose two versions" in bad.content


def test_editor_page_config(alice_client, member_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    response = alice_client.get(reverse("topology_editor", args=[topology.pk, 1]))
    assert response.status_code == 200
    config = response.context["editor_config"]
    assert config["topologyId"] == topology.pk and config["versionNumber"] == 1 and config["versionStatus"] == "draft"
    assert config["readOnly"] is False
    assert config["saveUrl"] == config["xmlUrl"] == reverse("api_version_xml", args=[topology.pk, 1])
    assert config["registryUrl"] == "/api/node-registry/" and config["installsUrl"] == "/api/installs/options/"
    # The page carries the registry itself (no round trip before drawing), the same payload as the API.
    assert config["registry"] == alice_client.get(config["registryUrl"]).json()
    for key in ("publishUrl", "enableUrl", "disableUrl", "exportUrl", "importUrl", "historyUrl", "detailUrl"):
        assert config[key].startswith("/")
    assert config["errors"] == [] and config["unsupported"] == [] and isinstance(config["webhookUrls"], dict)
    rendered = response.content.decode()
    start = rendered.index('id="editor-config"')
    payload = rendered[rendered.index(">", start) + 1 : rendered.index("</script>", start)]
    assert json.loads(payload)["topologyName"] == topology.name
    viewer = member_client(Role.VIEWER).get(reverse("topology_editor", args=[topology.pk, 1]))
    assert viewer.context["editor_config"]["readOnly"] is True


def test_export_downloads_the_stored_xml(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Order sync")
    response = alice_client.get(reverse("topology_version_export", args=[topology.pk, 1]))
    assert response["Content-Disposition"] == 'attachment; filename="order-sync-v1.bpmn"'
    assert response.content.decode() == first_version(topology).bpmn_xml


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_import_every_fixture_keeps_the_xml(alice_client, tenant_a, path):
    with path.open("rb") as fh:
        response = alice_client.post(reverse("topology_import"), {"file": fh})
    assert response.status_code == 200
    assert b'data-testid="import-result"' in response.content, response.content[:2000]
    version = TopologyVersion.objects.get(topology__tenant=tenant_a)
    assert version.bpmn_xml == decode_xml(path.read_bytes())
    assert version.topology.name == path.name.rsplit(".", 1)[0]
    export = alice_client.get(reverse("topology_version_export", args=[version.topology_id, 1]))
    assert export.content == path.read_bytes()  # same bytes back, in the file's own encoding


EXPECTED_UNSUPPORTED = {
    "boundary-events.bpmn": {"bpmn:BoundaryEvent", "bpmn:SubProcess", "bpmn:IntermediateThrowEvent"},
    "data-objects.bpmn": {"bpmn:DataObjectReference", "bpmn:DataStoreReference"},
    "text-annotation.bpmn": {"bpmn:TextAnnotation"},
    "message-flows.bpmn": {"bpmn:MessageFlow", "bpmn:Process", "bpmn:TextAnnotation"},
    "gateways.bpmn": {"bpmn:InclusiveGateway", "bpmn:ComplexGateway", "bpmn:EventBasedGateway"},
    "transaction.bpmn": {"bpmn:CallActivity", "bpmn:SendTask", "bpmn:ReceiveTask", "bpmn:Transaction", "bpmn:Group"},
    "multiple-diagrams.bpmn": {"bpmn:Process"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_UNSUPPORTED))
def test_import_reports_specific_unsupported_elements(alice_client, tenant_a, name):
    with (FIXTURES / name).open("rb") as fh:
        page = alice_client.post(reverse("topology_import"), {"file": fh}).content.decode()
    version = TopologyVersion.objects.get(topology__tenant=tenant_a)
    types = {u["type"] for u in version.unsupported}
    assert EXPECTED_UNSUPPORTED[name] <= types
    assert "bpmn:Lane" not in types and "bpmn:LaneSet" not in types and "bpmn:Participant" not in types
    assert 'data-testid="unsupported-table"' in page
    for expected in EXPECTED_UNSUPPORTED[name]:
        assert expected in page


def test_lanes_are_kept(alice_client, tenant_a):
    with (FIXTURES / "pools-lanes.bpmn").open("rb") as fh:
        alice_client.post(reverse("topology_import"), {"file": fh})
    version = TopologyVersion.objects.get(topology__tenant=tenant_a)
    assert "<bpmn:laneSet" in version.bpmn_xml and '<bpmn:lane id="Lane_Shipping"' in version.bpmn_xml
    assert version.nodes.count() > 0


def test_xss_sample_is_escaped(alice_client, tenant_a):
    with (FIXTURES / "xss.bpmn").open("rb") as fh:
        imported = alice_client.post(reverse("topology_import"), {"file": fh}).content.decode()
    version = TopologyVersion.objects.get(topology__tenant=tenant_a)
    assert any(e["element_id"] == '"><' for e in version.errors)  # the hostile id is kept as data
    detail = alice_client.get(reverse("topology_detail", args=[version.topology_id])).content.decode()
    editor = alice_client.get(reverse("topology_editor", args=[version.topology_id, 1])).content.decode()
    for page in (imported, detail):
        assert 'mono">&quot;&gt;&lt;</span>' in page and 'mono">"><' not in page
        assert "<img" not in page
    assert '\\"\\u003E\\u003C' in editor and "<img" not in editor  # json_script escapes the id


def test_hostile_names_are_never_marked_safe(alice_client, tenant_a):
    evil = "<img src=x onerror=alert(1)>"
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
        f'<bpmn:process id="P" name="{evil.replace("<", "&lt;")}"><bpmn:startEvent id="s"/>'
        f'<bpmn:subProcess id="sub" name="{evil.replace("<", "&lt;")}"/>'
        f'<bpmn:task id="t" name="{evil.replace("<", "&lt;")}"/></bpmn:process></bpmn:definitions>'
    )
    response = alice_client.post(
        reverse("api_topology_import"), {"bpmn_xml": xml}, content_type="application/json"
    ).json()
    topology_id = response["topology"]["id"]
    assert response["topology"]["name"] == evil  # the process name became the topology name, as plain data
    pages = [
        alice_client.get(reverse("topology_list")).content.decode(),
        alice_client.get(reverse("topology_detail", args=[topology_id])).content.decode(),
        alice_client.get(reverse("topology_versions", args=[topology_id])).content.decode(),
        alice_client.get(reverse("topology_editor", args=[topology_id, 1])).content.decode(),
    ]
    for page in pages:
        assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]


def test_import_refuses_hostile_and_broken_files(alice_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.topology.test_bpmn import BILLION_LAUGHS

    for content in (BILLION_LAUGHS.encode(), b"<bpmn:definitions", b"not xml"):
        upload = SimpleUploadedFile("evil.bpmn", content, content_type="application/xml")
        response = alice_client.post(reverse("topology_import"), {"file": upload})
        assert response.status_code == 200 and b"has-error" in response.content
    assert not Topology.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_read_only_roles_see_but_cannot_change(member_client, tenant_a, alice, role):
    client = member_client(role)
    topology = make_topology(tenant_a, alice)
    assert client.get(reverse("topology_detail", args=[topology.pk])).status_code == 200
    assert b"Rename" not in client.get(reverse("topology_detail", args=[topology.pk])).content
    for name in ("topology_rename", "topology_clone", "topology_delete"):
        assert client.post(reverse(name, args=[topology.pk]), {"name": "X", "force": "on"}).status_code == 403
    assert client.post(reverse("topology_create"), {"name": "New"}).status_code == 403
    assert client.post(reverse("topology_version_publish", args=[topology.pk, 1])).status_code == 403
    topology.refresh_from_db()
    assert topology.deleted_at is None and topology.name == "Orders"


def test_import_report_lists_the_processes_and_the_one_that_runs(alice_client, tenant_a):
    with (FIXTURES / "multiple-diagrams.bpmn").open("rb") as fh:
        page = alice_client.post(reverse("topology_import"), {"file": fh}).content.decode()
    assert 'data-testid="import-processes"' in page
    assert '<tr data-process="Big">' in page and page.index('data-process="Big"') < page.index('badge-ok">runs')
    version = TopologyVersion.objects.get(topology__tenant=tenant_a)
    assert version.process_id == "Big"
    with (FIXTURES / "multiple-diagrams.bpmn").open("rb") as fh:
        picked = alice_client.post(reverse("topology_import"), {"file": fh, "process_id": "Small"})
    assert TopologyVersion.objects.get(topology__tenant=tenant_a, topology__name__endswith="(2)").process_id == "Small"
    assert 'data-process="Small"' in picked.content.decode()
    with (FIXTURES / "multiple-diagrams.bpmn").open("rb") as fh:
        wrong = alice_client.post(reverse("topology_import"), {"file": fh, "process_id": "Nope"})
    assert "no process with id" in wrong.context["form"].errors["process_id"][0]
    assert TopologyVersion.objects.filter(topology__tenant=tenant_a).count() == 2


def test_import_page_refuses_undecodable_bytes_with_line_and_column(alice_client, tenant_a, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(valid_xml().replace('name="Echo"', 'name="caf\xe9"').encode("latin-1"))
    with bad.open("rb") as fh:
        response = alice_client.post(reverse("topology_import"), {"file": fh})
    assert "at line" in response.context["form"].errors["file"][0]
    assert not TopologyVersion.objects.filter(topology__tenant=tenant_a).exists()
