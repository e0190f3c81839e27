"""REST API of topologies: CRUD, versions, XML save/publish/enable, diff, import/export, editor lookups."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from admin_ui.models import ApiToken, Membership, Role
from tests.factories import make_member
from tests.topology.factories import (
    FIXTURES,
    chain,
    first_version,
    invalid_xml,
    linear_nodes,
    make_install,
    make_topology,
    valid_xml,
)
from tests.topology.test_bpmn import BILLION_LAUGHS, EXTERNAL_DTD, EXTERNAL_ENTITY
from topology import kinds
from topology.bpmn.build import build_bpmn
from topology.models import Node, Topology, TopologyVersion
from topology.runtime.retry import RetryPolicy

pytestmark = pytest.mark.django_db


def put_xml(client: Client, topology: Topology, number: int, xml: str):
    url = reverse("api_version_xml", args=[topology.pk, number])
    return client.put(url, data=json.dumps({"bpmn_xml": xml}), content_type="application/json")


def token_client(tenant, scopes: list[str]) -> Client:
    key = f"fy_test_{'-'.join(scopes)}_{tenant.pk}"
    owner = Membership.objects.filter(tenant=tenant, role=Role.OWNER).first()
    creator = owner.user if owner else make_member(tenant, Role.OWNER)
    ApiToken.objects.create(
        tenant=tenant,
        name="t",
        prefix=key[:12],
        hashed_key=ApiToken.hash_key(key),
        scopes=scopes,
        created_by=creator,
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_list_create_patch_delete(alice_client, tenant_a, alice):
    make_topology(tenant_a, alice, "Billing")
    response = alice_client.post(
        reverse("api_topology_list"), {"name": "Orders", "description": "d"}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["name"] == "Orders" and created["latest_version"] == 1 and created["enabled_version"] is None

    listing = alice_client.get(reverse("api_topology_list")).json()
    assert [t["name"] for t in listing] == ["Billing", "Orders"]
    assert [t["name"] for t in alice_client.get(reverse("api_topology_list"), {"q": "ord"}).json()] == ["Orders"]

    duplicate = alice_client.post(reverse("api_topology_list"), {"name": "Orders"}, content_type="application/json")
    assert duplicate.status_code == 400 and "name" in duplicate.json()["errors"]

    detail = reverse("api_topology_detail", args=[created["id"]])
    patched = alice_client.patch(detail, {"name": "Orders EU"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["name"] == "Orders EU"
    assert alice_client.get(detail).json()["description"] == "d"

    assert alice_client.delete(detail).status_code == 204
    assert alice_client.get(detail).status_code == 404
    assert Topology.objects.get(pk=created["id"]).deleted_at is not None


def test_versions_and_version_detail(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    versions = alice_client.get(reverse("api_version_list", args=[topology.pk])).json()
    assert [(v["number"], v["status"]) for v in versions] == [(1, "draft")]
    body = alice_client.get(reverse("api_version_detail", args=[topology.pk, 1])).json()
    assert body["version"]["editor_url"] == reverse("topology_editor", args=[topology.pk, 1])
    assert [(n["key"], n["kind"]) for n in body["nodes"]] == [
        ("End", "end"),
        ("Py", "python"),
        ("Start", "start.manual"),
    ]
    assert [(e["source"], e["target"]) for e in body["edges"]] == [("Start", "Py"), ("Py", "End")]
    assert alice_client.get(reverse("api_version_detail", args=[topology.pk, 9])).status_code == 404


def test_xml_get_and_put_lifecycle(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, xml=invalid_xml())
    xml_url = reverse("api_version_xml", args=[topology.pk, 1])
    got = alice_client.get(xml_url)
    assert got.status_code == 200 and got["Content-Type"].startswith("application/xml")
    assert got.content.decode() == first_version(topology).bpmn_xml

    # publish is refused while the draft has errors
    publish = alice_client.post(reverse("api_version_publish", args=[topology.pk, 1]))
    assert publish.status_code == 400
    assert publish.json()["errors"][0]["field"] == "expression" and publish.json()["detail"]

    # saving the draft updates it in place
    saved = put_xml(alice_client, topology, 1, valid_xml())
    assert saved.status_code == 200
    body = saved.json()
    assert body["version"]["number"] == 1 and body["version"]["status"] == "draft" and body["errors"] == []
    assert body["editorUrl"] == reverse("topology_editor", args=[topology.pk, 1])
    assert body["version"]["content_hash"] == first_version(topology).content_hash

    assert (
        alice_client.post(reverse("api_version_publish", args=[topology.pk, 1])).json()["version"]["status"]
        == "published"
    )
    enabled = alice_client.post(reverse("api_version_enable", args=[topology.pk, 1]))
    assert enabled.status_code == 200 and enabled.json()["version"]["enabled"] is True

    # the same XML again: no new version
    same = put_xml(alice_client, topology, 1, first_version(topology).bpmn_xml).json()
    assert same["version"]["number"] == 1 and TopologyVersion.objects.filter(topology=topology).count() == 1

    # editing the published version makes a new draft, the editor moves to it
    changed = put_xml(alice_client, topology, 1, valid_xml("Other")).json()
    assert changed["version"] == {
        "number": 2,
        "status": "draft",
        "enabled": False,
        "content_hash": changed["version"]["content_hash"],
        "process_id": "Process_1",
    }
    assert changed["editorUrl"] == reverse("topology_editor", args=[topology.pk, 2])

    alice_client.post(reverse("api_version_publish", args=[topology.pk, 2]))
    assert alice_client.post(reverse("api_version_enable", args=[topology.pk, 2])).status_code == 200
    assert list(TopologyVersion.objects.filter(topology=topology, enabled=True).values_list("number", flat=True)) == [2]
    disabled = alice_client.post(reverse("api_version_disable", args=[topology.pk, 2]))
    assert disabled.json()["version"]["enabled"] is False


def test_enable_a_draft_is_refused(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    response = alice_client.post(reverse("api_version_enable", args=[topology.pk, 1]))
    assert response.status_code == 400 and "Publish" in response.json()["detail"]


def test_save_reports_unsupported_and_errors(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    xml = (FIXTURES / "boundary-events.bpmn").read_text()
    body = put_xml(alice_client, topology, 1, xml).json()
    assert {u["type"] for u in body["unsupported"]} == {
        "bpmn:BoundaryEvent",
        "bpmn:SubProcess",
        "bpmn:IntermediateThrowEvent",
    }
    assert {"element_id", "message", "field"} <= set(body["errors"][0])
    assert any(e["message"] == "Add at least one start event." for e in body["errors"])


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, "<bpmn:definitions xmlns:bpmn='x'>"])
def test_hostile_or_broken_xml_is_a_400_and_stores_nothing(alice_client, tenant_a, alice, xml):
    topology = make_topology(tenant_a, alice)
    before = first_version(topology).bpmn_xml
    response = put_xml(alice_client, topology, 1, xml)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert first_version(topology).bpmn_xml == before
    assert TopologyVersion.objects.filter(topology=topology).count() == 1


def test_malformed_xml_gives_line_and_column(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    response = put_xml(alice_client, topology, 1, valid_xml().replace("</bpmn:process>", "", 1))
    error = response.json()["errors"][0]
    assert response.status_code == 400 and error["line"] > 1 and error["column"] is not None


def test_bodies_over_the_limit_are_refused_before_reading(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    padding = "<!--" + "x" * (10 * 1024 * 1024 + 10) + "-->"
    response = put_xml(alice_client, topology, 1, valid_xml().replace("<bpmn:process", padding + "<bpmn:process", 1))
    assert response.status_code == 413 and "too large" in response.json()["detail"]
    # 5 MB < XML < 10 MB: read, then refused by the BPMN limit
    response = put_xml(
        alice_client,
        topology,
        1,
        valid_xml().replace("<bpmn:process", "<!--" + "y" * (6 * 1024 * 1024) + "--><bpmn:process", 1),
    )
    assert response.status_code == 400 and "larger than 5 MB" in response.json()["detail"]
    imported = alice_client.post(
        reverse("api_topology_import"), {"name": "Big", "bpmn_xml": padding}, content_type="application/json"
    )
    assert imported.status_code == 413
    assert TopologyVersion.objects.filter(topology=topology).count() == 1
    assert not Topology.objects.filter(name="Big").exists()


def test_diff_api(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    put_xml(alice_client, topology, 1, valid_xml())
    alice_client.post(reverse("api_version_publish", args=[topology.pk, 1]))
    put_xml(alice_client, topology, 1, valid_xml("Changed"))
    url = reverse("api_version_diff", args=[topology.pk])
    diff = alice_client.get(url, {"a": 1, "b": 2}).json()
    assert diff["changed"] == [
        {"key": "Py", "name": "Changed", "fields": [{"field": "name", "before": "Echo", "after": "Changed"}]}
    ]
    assert alice_client.get(url, {"a": 1}).status_code == 400
    assert alice_client.get(url, {"a": 1, "b": 7}).status_code == 404


def test_import_multipart_and_json_and_export(alice_client, tenant_a):
    sample = FIXTURES / "data-objects.bpmn"
    with sample.open("rb") as fh:
        response = alice_client.post(reverse("api_topology_import"), {"file": fh})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["topology"]["name"] == "data-objects"
    assert {u["type"] for u in body["unsupported"]} == {"bpmn:DataObjectReference", "bpmn:DataStoreReference"}
    topology_id = body["topology"]["id"]
    export = alice_client.get(reverse("api_version_export", args=[topology_id, 1]))
    assert export.status_code == 200
    assert export.content == sample.read_bytes()  # stored unchanged
    assert export["Content-Disposition"] == 'attachment; filename="data-objects-v1.bpmn"'

    as_json = alice_client.post(
        reverse("api_topology_import"), {"name": "From JSON", "bpmn_xml": valid_xml()}, content_type="application/json"
    )
    assert as_json.status_code == 201 and as_json.json()["errors"] == []
    missing = alice_client.post(reverse("api_topology_import"), {"name": "x"}, content_type="application/json")
    assert missing.status_code == 400


def test_registry_and_install_options(alice_client, tenant_a, tenant_b):
    registry = alice_client.get(reverse("api_node_registry")).json()
    assert "flowyard.noop" in {entry["name"] for entry in registry["python"]}
    assert [k["kind"] for k in registry["kinds"]] == list(kinds.KINDS)
    python = next(k for k in registry["kinds"] if k["kind"] == "python")
    assert python["retry"]["retry_on"] == ["all"] and python["inline"] is False
    mine = make_install(tenant_a, "Shop A")
    disabled = make_install(tenant_a, "Old")
    disabled.enabled = False
    disabled.save()
    make_install(tenant_b, "Shop B")
    options = alice_client.get(reverse("install_options")).json()
    assert options == [{"id": mine.pk, "name": "Shop A", "application": "Generic HTTP"}]


def test_connector_install_id_is_typed_on_the_node(alice_client, tenant_a, alice):
    install = make_install(tenant_a)
    topology = make_topology(tenant_a, alice)
    nodes = linear_nodes({"id": "C", "kind": "connector", "name": "C", "install": install.pk, "path": "/p"})
    assert put_xml(alice_client, topology, 1, build_bpmn(nodes, chain(nodes))).json()["errors"] == []
    assert Node.objects.get(version__topology=topology, key="C").install_id == install.pk


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_read_only_roles_cannot_write(member_client, tenant_a, alice, role):
    client = member_client(role)
    topology = make_topology(tenant_a, alice)
    assert client.get(reverse("api_version_xml", args=[topology.pk, 1])).status_code == 200
    assert put_xml(client, topology, 1, valid_xml("X")).status_code == 403
    assert client.post(reverse("api_version_publish", args=[topology.pk, 1])).status_code == 403
    assert client.post(reverse("api_topology_list"), {"name": "N"}, content_type="application/json").status_code == 403
    assert client.delete(reverse("api_topology_detail", args=[topology.pk])).status_code == 403
    assert first_version(topology).status == "draft"


def test_api_tokens_by_scope(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    reader = token_client(tenant_a, ["read"])
    assert reader.get(reverse("api_topology_list")).json()[0]["id"] == topology.pk
    assert reader.post(reverse("api_version_publish", args=[topology.pk, 1])).status_code == 403
    writer = token_client(tenant_a, ["write"])
    response = writer.post(reverse("api_version_publish", args=[topology.pk, 1]))
    assert response.status_code == 200 and response.json()["version"]["status"] == "published"


def test_openapi_schema_lists_the_endpoints(alice_client):
    schema = alice_client.get(reverse("api-schema"), {"format": "json"})
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/topologies/{id}/versions/{number}/xml/" in paths
    assert "put" in paths["/api/topologies/{id}/versions/{number}/xml/"]


def test_nodes_saved_by_the_editor_store_retry_defaults_that_retry_exceptions(alice_client, tenant_a, alice):
    """Regression: the editor's save path stored retry_on without "error", so Python nodes never retried."""
    topology = make_topology(tenant_a, alice)
    nodes = linear_nodes(
        {"id": "P", "kind": "python", "name": "P", "registry": "flowyard.noop"},
        {"id": "T", "kind": "transform", "name": "T", "expression": "@"},
    )
    assert put_xml(alice_client, topology, 1, build_bpmn(nodes, chain(nodes))).status_code == 200
    python = Node.objects.get(version__topology=topology, key="P")
    assert RetryPolicy.from_config(python.retry).retries("error")
    assert python.retry == kinds.RETRY_DEFAULTS
    assert Node.objects.get(version__topology=topology, key="T").retry == {}  # transforms never retry


def upload(client: Client, path, **extra):
    with path.open("rb") as fh:
        return client.post(reverse("api_topology_import"), {"file": fh, **extra})


def test_import_decodes_latin1_and_exports_the_same_bytes(alice_client, tenant_a):
    body = upload(alice_client, FIXTURES / "latin1.bpmn").json()
    assert Node.objects.get(version__topology_id=body["topology"]["id"], key="Tache").name == "Tâche élémentaire"
    export = alice_client.get(reverse("api_version_export", args=[body["topology"]["id"], 1]))
    assert export.content == (FIXTURES / "latin1.bpmn").read_bytes()
    assert export["Content-Type"] == "application/xml; charset=ISO-8859-1"


def test_import_refuses_undecodable_bytes_and_duplicate_ids(alice_client, tenant_a, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(valid_xml().replace('name="Echo"', 'name="caf\xe9"').encode("latin-1"))
    response = upload(alice_client, bad)
    assert response.status_code == 400 and response.json()["errors"][0]["line"] > 1
    twice = tmp_path / "twice.bpmn"
    twice.write_text(valid_xml().replace('id="Py"', 'id="Start"'))
    response = upload(alice_client, twice)
    assert response.status_code == 400
    assert "Duplicate element id 'Start'" in response.json()["detail"]
    assert response.json()["detail"].count("line ") == 2
    assert not Topology.objects.filter(tenant=tenant_a).exists()


def test_import_runs_the_biggest_process_or_the_one_picked(alice_client, tenant_a):
    first = upload(alice_client, FIXTURES / "multiple-diagrams.bpmn").json()
    assert first["version"]["process_id"] == "Big"
    assert set(Node.objects.filter(version__topology_id=first["topology"]["id"]).values_list("key", flat=True)) == {
        "Big_Start",
        "Big_One",
        "Big_Two",
        "Big_End",
    }
    picked = upload(alice_client, FIXTURES / "multiple-diagrams.bpmn", process_id="Small").json()
    assert picked["version"]["process_id"] == "Small"
    version = TopologyVersion.objects.get(topology_id=picked["topology"]["id"])
    # Saving again (as the editor does) keeps running the picked process.
    put_xml(alice_client, version.topology, 1, version.bpmn_xml.replace("Small end", "Small finish"))
    assert set(version.nodes.values_list("key", flat=True)) == {"Small_Start", "Small_End"}
    wrong = upload(alice_client, FIXTURES / "multiple-diagrams.bpmn", process_id="Nope")
    assert wrong.status_code == 400 and "Small, Big" in wrong.json()["detail"]


def test_import_over_the_node_limit_is_refused(alice_client, tenant_a, settings):
    settings.FLOWYARD_MAX_NODES = 2
    response = alice_client.post(
        reverse("api_topology_import"), {"name": "Big", "bpmn_xml": valid_xml()}, content_type="application/json"
    )
    assert response.status_code == 400 and "FLOWYARD_MAX_NODES" in response.json()["detail"]
    assert not Topology.objects.filter(tenant=tenant_a).exists()


def test_delete_force_must_be_a_boolean(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Billing")
    detail = reverse("api_topology_detail", args=[topology.pk])
    for value in ("null", "maybe"):
        response = alice_client.delete(f"{detail}?force={value}")
        assert response.status_code == 400 and "force" in response.json()["errors"], value
    assert Topology.objects.filter(pk=topology.pk, deleted_at__isnull=True).exists()
    assert alice_client.delete(f"{detail}?force=false").status_code == 204


def test_list_filter_and_diff_query_are_validated(alice_client, tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Billing")
    assert alice_client.get(reverse("api_topology_list"), {"q": "bad\x00"}).status_code == 400
    diff = reverse("api_version_diff", args=[topology.pk])
    for query in ({"a": "²", "b": "1"}, {"a": "1"}, {"a": "1", "b": "9" * 5000}):
        response = alice_client.get(diff, query)
        assert response.status_code == 400 and response.json()["errors"], query
    assert alice_client.get(diff, {"a": "1", "b": "99999999999999999999"}).status_code == 400


def test_oversized_import_is_a_json_413_with_a_session_and_csrf_or_a_token(tenant_a, alice):
    """The size is refused before authentication reads the body (the CSRF check of a session used to)."""
    big = ("<!--" + "x" * (11 * 1024 * 1024) + "-->").encode()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get(reverse("topology_list"))  # sets the CSRF cookie as a page visit does
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value} if "csrftoken" in browser.cookies else {}
    token = token_client(tenant_a, ["write"])
    for client, extra in ((browser, csrf), (token, {})):
        upload = SimpleUploadedFile("big.bpmn", big, content_type="application/xml")
        multipart = client.post(reverse("api_topology_import"), {"file": upload}, **extra)
        as_json = client.post(
            reverse("api_topology_import"),
            json.dumps({"name": "Big", "bpmn_xml": big.decode()}),
            content_type="application/json",
            **extra,
        )
        for response in (multipart, as_json):
            assert response.status_code == 413, response.content[:300]
            assert response["Content-Type"].startswith("application/json")
            assert "too large" in response.json()["detail"]
    assert not Topology.objects.filter(tenant=tenant_a).exclude(deleted_at__isnull=False).filter(name="Big").exists()


def test_bpmn_xml_field_refuses_lone_surrogates_without_drf_per_character_validator():
    from topology.api import ImportInputSerializer, XmlInputSerializer

    bad = XmlInputSerializer(data={"bpmn_xml": "<a>\ud800</a>"})
    assert not bad.is_valid() and "bpmn_xml" in bad.errors
    assert ImportInputSerializer(data={"bpmn_xml": "x\udfff"}).is_valid() is False
    good = XmlInputSerializer(data={"bpmn_xml": "  <a>é😀</a>\n"})
    assert good.is_valid() and good.validated_data["bpmn_xml"] == "  <a>é😀</a>\n"  # whitespace kept


def test_save_tells_a_worker_without_url_or_install_base_url_and_keeps_other_tenants_installs_out(
    alice_client, tenant_a, tenant_b, alice
):
    topology = make_topology(tenant_a, alice)
    bare = make_install(tenant_a, "No base URL")
    theirs = make_install(tenant_b, "Theirs")
    theirs.settings = {"base_url": "https://theirs.example.com"}
    theirs.save()
    workers = [
        {"id": "Bare", "kind": "worker", "name": "Bare", "install": bare.pk, "action": "/a"},
        {"id": "None", "kind": "worker", "name": "None", "action": "/a"},
        {"id": "Theirs", "kind": "worker", "name": "Theirs", "install": theirs.pk, "action": "/a"},
    ]
    nodes = linear_nodes(*workers)
    body = put_xml(alice_client, topology, 1, build_bpmn(nodes, chain(nodes))).json()
    problems = {(e["element_id"], e["field"]): e["message"] for e in body["errors"]}
    assert "has no base URL" in problems[("Bare", "install")]
    assert "needs a worker URL or an application install" in problems[("None", "url")]
    assert problems[("Theirs", "install")] == "Theirs: the application install does not exist."
    # The other tenant's install is not stored on the node either: nothing of it can reach the runtime.
    assert Node.objects.get(version__topology=topology, key="Theirs").install_id is None
