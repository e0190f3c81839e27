"""The workbench without an engine: validation, audit, conflicts, roles and token scope, try, filters, retention."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.utils import timezone

from admin_ui.models import AuditEntry, Role
from tests.admin_ui.factories import bearer, make_token
from tests.trash.test_isolation import make_trash
from topology.models import Edge, Node
from trash import jsonpath, services
from trash.models import TrashBulkJob, TrashEdit, TrashMessage

pytestmark = pytest.mark.django_db
JSON = "application/json"
SCHEMA = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "pattern": "@"},
        "items": {"type": "array", "items": {"type": "integer"}},
    },
}


def with_schema(message, schema=SCHEMA):
    message.node.config = {**message.node.config, "inputSchema": json.dumps(schema)}
    message.node.save()
    return message


def test_invalid_json_is_refused_with_a_message_and_nothing_saved(alice, tenant_a, alice_client):
    message = make_trash(tenant_a)
    with pytest.raises(services.TrashError, match="not valid JSON") as info:
        services.trash_message_edit(message=message, actor=alice, body='{"order": 4')
    assert info.value.errors["body"][0]["path"] == "$"
    response = alice_client.post(f"/trash/{message.pk}/edit/", {"body": '{"order": ', "action": "save"})
    assert response.status_code == 400
    assert "not valid JSON" in response.content.decode()
    api = alice_client.patch(f"/api/trash/{message.pk}/", {"body": "nope"}, content_type=JSON)
    assert api.status_code == 400 and "not valid JSON" in api.json()["detail"]
    message.refresh_from_db()
    assert (message.body, message.revision) == ('{"order": 42}', 1)
    assert not TrashEdit.objects.exists()


def test_schema_violations_point_at_the_path_and_nothing_is_saved(alice, tenant_a, alice_client):
    message = with_schema(make_trash(tenant_a, body='{"email": "x@y"}'))
    with pytest.raises(services.TrashError) as info:
        services.trash_message_edit(message=message, actor=alice, body='{"email": "nobody", "items": [1, "two"]}')
    paths = {e["path"]: e["message"] for e in info.value.errors["body"]}
    assert set(paths) == {"$.email", "$.items[1]"}
    assert "'two' is not of type 'integer'" in paths["$.items[1]"]
    api = alice_client.patch(f"/api/trash/{message.pk}/", {"body": "{}"}, content_type=JSON)
    assert api.status_code == 400
    assert api.json()["errors"]["body"] == [{"path": "$", "message": "'email' is a required property"}]
    page = alice_client.post(f"/trash/{message.pk}/edit/", {"body": '{"email": 3}', "action": "resend"})
    assert page.status_code == 400 and "$.email" in page.content.decode()
    message.refresh_from_db()
    assert (message.body, message.status, message.revision) == ('{"email": "x@y"}', "open", 1)


def test_save_writes_history_and_an_audit_entry_with_the_diff(alice, tenant_a, alice_client):
    message = with_schema(make_trash(tenant_a, body='{"email": "x", "keep": 1}'), {"type": "object"})
    response = alice_client.post(
        f"/trash/{message.pk}/edit/",
        {
            "body": '{"email": "a@b.c", "keep": 1}',
            "header_name": ["correlation-id", "x-note"],
            "header_value": ["c1", "fixed"],
            "revision": "1",
            "action": "save",
        },
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert json.loads(message.body) == {"email": "a@b.c", "keep": 1}
    assert message.headers == {"correlation-id": "c1", "x-note": "fixed"}
    edit = message.edits.get()
    assert edit.actor == alice and edit.action == TrashEdit.Action.EDIT
    assert edit.diff == [
        {"path": "$.body.email", "op": "replace", "before": "x", "after": "a@b.c"},
        {"path": "$.headers.x-note", "op": "add", "after": "fixed"},
    ]
    audit = AuditEntry.objects.get(tenant=tenant_a, action="trash.edit")
    assert audit.before == {"diff": edit.diff}
    history = alice_client.get(f"/trash/{message.pk}/?tab=history").content.decode()
    assert "$.body.email" in history and "alice@example.com" in history


def test_identity_headers_are_read_only(alice, tenant_a):
    message = make_trash(tenant_a)
    with pytest.raises(services.TrashError, match="correlation-id"):
        services.trash_message_edit(message=message, actor=alice, headers={"correlation-id": "other"})
    with pytest.raises(services.TrashError, match="tenant"):
        services.trash_message_edit(message=message, actor=alice, headers={"correlation-id": "c1", "tenant": "9"})


def test_a_stale_revision_is_a_conflict(alice, tenant_a, alice_client):
    message = make_trash(tenant_a)
    services.trash_message_edit(message=message, actor=alice, body='{"order": 43}')
    with pytest.raises(services.TrashError) as info:
        services.trash_message_edit(message=message, actor=alice, body='{"order": 44}', revision=1)
    assert info.value.status == 409
    api = alice_client.post(f"/api/trash/{message.pk}/reject", {"reason": "x", "revision": 1}, content_type=JSON)
    assert api.status_code == 409
    message.refresh_from_db()
    assert (json.loads(message.body), message.status) == ({"order": 43}, "open")


def test_reject_needs_a_reason_and_is_final(alice, tenant_a, alice_client):
    message = make_trash(tenant_a)
    assert alice_client.post(f"/api/trash/{message.pk}/reject", {"reason": ""}, content_type=JSON).status_code == 400
    response = alice_client.post(f"/trash/{message.pk}/reject/", {"reason": "customer cancelled"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == TrashMessage.Status.REJECTED
    assert message.edits.get().note == "customer cancelled"
    again = alice_client.post(f"/api/trash/{message.pk}/resend", {}, content_type=JSON)
    assert again.status_code == 409 and "already rejected" in again.json()["detail"]


def test_viewers_read_operators_act(tenant_a, member_client):
    message = make_trash(tenant_a)
    viewer = member_client(Role.VIEWER)
    assert viewer.get(f"/trash/{message.pk}/").status_code == 200
    assert b'data-testid="resend"' not in viewer.get(f"/trash/{message.pk}/").content
    assert viewer.get(f"/api/trash/{message.pk}/").status_code == 200
    assert viewer.post(f"/trash/{message.pk}/reject/", {"reason": "x"}).status_code == 403
    assert viewer.post(f"/api/trash/{message.pk}/reject", {"reason": "x"}, content_type=JSON).status_code == 403
    assert viewer.patch(f"/api/trash/{message.pk}/", {"body": "{}"}, content_type=JSON).status_code == 403
    bulk = {"action": "reject", "reason": "x", "ids": [message.pk]}
    assert viewer.post("/api/trash/bulk/", bulk, content_type=JSON).status_code == 403
    message.refresh_from_db()
    assert message.status == "open"
    operator = member_client(Role.OPERATOR)
    assert b'data-testid="resend"' in operator.get(f"/trash/{message.pk}/").content
    assert operator.post(f"/api/trash/{message.pk}/reject", {"reason": "x"}, content_type=JSON).status_code == 200


def test_trash_token_works_the_trash_and_a_read_token_only_reads(tenant_a, client):
    message = make_trash(tenant_a)
    reader = make_token(tenant_a, scopes=["read"])
    assert client.get("/api/trash/", **bearer(reader)).status_code == 200
    denied = client.post(f"/api/trash/{message.pk}/reject", {"reason": "x"}, content_type=JSON, **bearer(reader))
    assert denied.status_code == 403
    worker = make_token(tenant_a, scopes=["trash"])
    done = client.post(f"/api/trash/{message.pk}/reject", {"reason": "bot"}, content_type=JSON, **bearer(worker))
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    assert message.edits.get().actor_label.startswith("token:")
    # Exactly the trash endpoints: nothing else opens to it.
    assert client.get("/api/processes/", **bearer(worker)).status_code == 403
    assert client.post("/api/topologies/x/start", {}, content_type=JSON, **bearer(worker)).status_code == 403


def test_bulk_api_queues_a_job_over_a_group_and_refuses_a_second(tenant_a, alice_client):
    first = make_trash(tenant_a)
    make_trash(tenant_a, body='{"order": 2}')
    response = alice_client.post(
        "/api/trash/bulk/", {"action": "resend", "signature": first.signature, "throttle": 10}, content_type=JSON
    )
    assert response.status_code == 202, response.json()
    job = TrashBulkJob.objects.get(pk=response.json()["id"])
    assert (job.total, job.status, job.group_key, job.params) == (2, "queued", first.signature, {"throttle": 10})
    again = alice_client.post("/api/trash/bulk/", {"action": "resend", "signature": first.signature}, content_type=JSON)
    assert again.status_code == 409
    bad = alice_client.post("/api/trash/bulk/", {"action": "resend"}, content_type=JSON)
    assert bad.status_code == 400
    patch = {"action": "patch_resend", "ids": [first.pk], "patch": [{"op": "set", "path": "a..b", "value": 1}]}
    assert alice_client.post("/api/trash/bulk/", patch, content_type=JSON).status_code == 400
    cancelled = alice_client.post(f"/api/trash/bulk/{job.pk}/cancel", content_type=JSON)
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["report"]["untouched"] == 2


def test_bulk_page_form_starts_a_job_and_shows_progress(tenant_a, alice_client):
    message = make_trash(tenant_a)
    response = alice_client.post(
        "/trash/bulk/", {"scope": "filter", "q": "404", "action": "reject", "reason": "gone", "throttle": "0"}
    )
    job = TrashBulkJob.objects.get()
    assert response.url == f"/trash/bulk/{job.pk}/"
    assert job.snapshot == {str(message.pk): 1} and job.description == "all matching q=404"
    fragment = alice_client.get(f"/trash/bulk/{job.pk}/", HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 500ms"' in fragment.content and b"<html" not in fragment.content


def test_try_runs_a_transform_without_publishing_and_connectors_need_a_confirmation(alice, tenant_a, alice_client):
    message = make_trash(tenant_a, body='{"order": {"id": 5}}')
    message.node.config = {"expression": "order"}
    message.node.save()
    follower = Node.objects.create(version=message.version, key="next", name="Next", kind="end")
    Edge.objects.create(version=message.version, key="f", source=message.node, target=follower)
    message.version.enabled = True
    message.version.save()
    result = alice_client.post(f"/api/trash/{message.pk}/try", {}, content_type=JSON).json()
    assert result["code"] == 0 and not result["trashed"]
    assert [(o["node"], json.loads(o["body"])) for o in result["outputs"]] == [("next", {"id": 5})]
    page = alice_client.post(f"/trash/{message.pk}/try/", {"body": '{"order": [1]}'})
    assert b"would pass" in page.content and b"Nothing was published" in page.content
    message.node.kind = "connector"
    message.node.save()
    refused = alice_client.post(f"/api/trash/{message.pk}/try", {}, content_type=JSON)
    assert refused.status_code == 409 and "confirm" in refused.json()["errors"]


def test_filters_sort_and_names(tenant_a, alice_client):
    a = make_trash(tenant_a, reason="timeout at shop", node_key="fetch")
    b = make_trash(tenant_a, reason="HTTP 404", node_key="store")
    TrashMessage.objects.filter(pk=b.pk).update(correlation_id="corr-b", attempts=3)
    TrashMessage.objects.filter(pk=a.pk).update(created_at=timezone.now() - dt.timedelta(days=3))

    def ids(**params):
        return [m["id"] for m in alice_client.get("/api/trash/", params).json()["results"]]

    assert ids(node="Store") == [b.pk]
    assert ids(node="fetch") == [a.pk]
    assert ids(corr="corr-b") == [b.pk]
    assert ids(range="24h") == [b.pk]
    assert ids(version=1) == [b.pk, a.pk]
    assert ids(version=2) == []
    assert ids(sort="oldest") == [a.pk, b.pk]
    assert ids(sort="attempts")[0] == b.pk
    assert ids(status="rejected") == []
    page = alice_client.get("/trash/", {"node": "store"}).content.decode()
    assert "Store" in page and '<code class="muted small">store</code>' in page


def test_retention_purges_old_resent_and_rejected_only(tenant_a):
    old = timezone.now() - dt.timedelta(days=40)
    keep_open = make_trash(tenant_a, node_key="a")
    purge = [make_trash(tenant_a, node_key=k) for k in ("b", "c")]
    recent = make_trash(tenant_a, node_key="d")
    TrashMessage.objects.filter(pk=purge[0].pk).update(status="resent", updated_at=old)
    TrashMessage.objects.filter(pk=purge[1].pk).update(status="rejected", updated_at=old)
    TrashMessage.objects.filter(pk=keep_open.pk).update(updated_at=old)
    TrashMessage.objects.filter(pk=recent.pk).update(status="resent")
    from trash.tasks import trash_retention

    assert trash_retention(30) == 2
    assert set(TrashMessage.objects.values_list("pk", flat=True)) == {keep_open.pk, recent.pk}
    assert settings.CELERY_BEAT_SCHEDULE["trash-retention"]["task"] == "trash.tasks.trash_retention"


def test_json_paths():
    assert jsonpath.parse("$.items[2].sku") == ["items", 2, "sku"]
    assert jsonpath.set_value({"a": {}}, "a.b.c", 1) == {"a": {"b": {"c": 1}}}
    assert jsonpath.set_value({"items": [{"q": 1}]}, "items[0].q", 2) == {"items": [{"q": 2}]}
    assert jsonpath.delete_value({"a": {"b": 1, "c": 2}}, "a.b") == {"a": {"c": 2}}
    assert jsonpath.delete_value({"a": 1}, "x.y") == {"a": 1}
    for bad in ("", "$", "a..b", ".a", "a[x]"):
        with pytest.raises(ValueError):
            jsonpath.parse(bad)


def test_a_resent_message_failing_again_reopens_its_row(tenant_a):
    message = make_trash(tenant_a)
    TrashMessage.objects.filter(pk=message.pk).update(status="resent", revision=2)
    row = services.trash_message_create(
        tenant_id=tenant_a.pk,
        version_id=message.version_id,
        node_id=message.node_id,
        node_key="fetch",
        correlation_id="c1",
        process_id="",
        message_id="m9",
        headers={"correlation-id": "c1", "trash-id": str(message.pk)},
        body='{"order": 42}',
        reason="Remote answered 500",
    )
    assert row.pk == message.pk and TrashMessage.objects.count() == 1
    assert (row.status, row.attempts, row.revision, row.reason) == ("open", 2, 3, "Remote answered 500")
    assert "trash-id" not in row.headers


def test_a_redelivered_job_resumes_and_counts_what_it_already_did(tenant_a, alice):
    rows = [make_trash(tenant_a, node_key=f"n{i}") for i in range(3)]
    job = services.trash_bulk_job_create(
        tenant=tenant_a,
        actor=alice,
        action="reject",
        messages=TrashMessage.objects.filter(pk__in=[r.pk for r in rows]),
        reason="dup",
    )
    assert services.trash_bulk_job_run(job_id=job.pk).status == "done"
    # The worker "died" after the rows were written but before the job was marked done; the task comes back.
    TrashBulkJob.objects.filter(pk=job.pk).update(status="running", processed=1, succeeded=1)
    assert services.trash_bulk_job_run(job_id=job.pk).status == "running"  # a plain second delivery is ignored
    job = services.trash_bulk_job_run(job_id=job.pk, resume=True)
    assert (job.status, job.processed, job.succeeded, job.skipped) == ("done", 3, 3, 0)
    assert TrashEdit.objects.filter(bulk_job=job).count() == 3


def test_the_process_page_links_to_its_trash_and_back(tenant_a, alice_client):
    from django.utils import timezone

    from processes.models import Process

    message = make_trash(tenant_a)
    process = Process.objects.create(
        tenant=tenant_a, version=message.version, correlation_id="c1", started_at=timezone.now(), status="failed"
    )
    page = alice_client.get(f"/processes/{process.pk}/").content.decode()
    assert f'href="/trash/{message.pk}/"' in page and "Fetch" in page
    detail = alice_client.get(f"/trash/{message.pk}/").content.decode()
    assert f'href="/processes/{process.pk}/"' in detail


def test_resend_goes_to_a_draining_version_while_it_still_runs(tenant_a):
    from django.utils import timezone

    from processes.models import Process
    from topology.models import TopologyVersion

    message = make_trash(tenant_a)
    v1 = message.version
    TopologyVersion.objects.filter(pk=v1.pk).update(enabled=False, enabled_at=timezone.now())
    v2 = TopologyVersion.objects.create(topology=v1.topology, number=2, bpmn_xml="<x/>", enabled=True)
    Node.objects.create(version=v2, key="fetch", name="Fetch v2", kind="transform")
    running = Process.objects.create(tenant=tenant_a, version=v1, correlation_id="other", started_at=timezone.now())
    message.refresh_from_db()
    target = services.trash_resend_target(message=message)
    assert (target.version, target.warning, target.label) == (v1, "", "Fetch of v1")
    Process.objects.filter(pk=running.pk).update(status="success")
    target = services.trash_resend_target(message=message)
    assert target.version == v2 and target.label == "Fetch v2 of v2"
    assert target.warning == "v1 no longer runs: the message goes to Fetch v2 of v2."


def test_try_on_a_connector_calls_it_for_real_only_when_confirmed(tenant_a, alice_client, settings):
    from admin_ui.models import Application, ApplicationInstall
    from tests.topology.runtime.harness import Stub

    settings.FLOWYARD_EGRESS_ALLOW = ["127.0.0.1/32"]
    stub = Stub()
    try:
        stub.routes["/orders"] = lambda call: (200, {"accepted": call["json"]["id"]})
        app, _ = Application.objects.get_or_create(key="http", defaults={"name": "HTTP"})
        install = ApplicationInstall.objects.create(
            tenant=tenant_a, application=app, name="shop", settings={"base_url": stub.url, "auth_type": "none"}
        )
        message = make_trash(tenant_a, body='{"id": 9}')
        Node.objects.filter(pk=message.node_id).update(
            kind="connector", config={"method": "POST", "path": "/orders"}, install=install
        )
        refused = alice_client.post(f"/trash/{message.pk}/try/", {"body": '{"id": 9}'}).content.decode()
        assert "confirm to make the call" in refused and stub.count("/orders") == 0
        done = alice_client.post(f"/api/trash/{message.pk}/try", {"confirm": True}, content_type=JSON).json()
        assert stub.count("/orders") == 1
        assert (done["remote"], done["code"], done["trashed"]) == (True, 0, False)
    finally:
        stub.close()
    message.refresh_from_db()
    assert message.status == "open" and not message.edits.exists()
