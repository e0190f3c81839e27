"""Edit and resend through a real engine and RabbitMQ: success after a fix, the same row on a repeated failure,
and delivery to the enabled version's node after a version switch."""

from __future__ import annotations

import functools
import json

import pytest

from admin_ui.models import Application, ApplicationInstall, AuditEntry
from processes.models import Process
from processes.services import process_start
from tests.topology.runtime import harness
from tests.topology.runtime.harness import wait_process
from tests.topology.runtime_factories import make_runtime_version, version_enable
from topology.models import Edge, Node, TopologyVersion
from trash import services
from trash.models import TrashEdit, TrashMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Resends re-enable versions while engines reload: consumers may take longer to come back than elsewhere.
ready = functools.partial(harness.ready, timeout=60)


def shop_version(tenant, runtime, stub):
    """start → call (connector: POST /orders, 422 unless the email has an @) → end."""

    def orders(call):
        body = call["json"] or {}
        if "@" not in str(body.get("email", "")):
            return 422, {"error": "email is invalid"}
        return 200, {"accepted": body.get("id")}

    stub.routes["/orders"] = orders
    app, _ = Application.objects.get_or_create(key="http", defaults={"name": "HTTP"})
    install = ApplicationInstall.objects.create(
        tenant=tenant, application=app, name="shop", settings={"base_url": stub.url, "auth_type": "none"}
    )
    return ready(
        runtime,
        make_runtime_version(
            tenant,
            {
                "start": "start.manual",
                "call": ("connector", {"method": "POST", "path": "/orders"}, {"install": install}),
                "end": "end",
            },
            ["start>call", "call>end"],
        ),
    )


def trashed(process):
    process = wait_process(process.correlation_id)
    assert process.status == Process.Status.FAILED
    return TrashMessage.objects.get(correlation_id=process.correlation_id)


def test_fix_the_body_resend_and_the_process_succeeds(tenant_a, alice, runtime, stub):
    version = shop_version(tenant_a, runtime, stub)
    message = trashed(process_start(version=version, body={"id": 7, "email": "nobody"}))
    assert "HTTP 422" in message.reason and "email is invalid" in message.reason

    services.trash_message_resend(
        message=message, actor=alice, body=json.dumps({"id": 7, "email": "a@example.com"}), revision=message.revision
    )

    process = wait_process(message.correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert process.trashed == 0
    message.refresh_from_db()
    assert message.status == TrashMessage.Status.RESENT
    assert stub.calls[-1]["json"] == {"id": 7, "email": "a@example.com"}
    edit = message.edits.get(action=TrashEdit.Action.EDIT)
    assert edit.actor == alice
    assert edit.diff == [{"path": "$.body.email", "op": "replace", "before": "nobody", "after": "a@example.com"}]
    assert message.edits.filter(action=TrashEdit.Action.RESEND).count() == 1
    assert AuditEntry.objects.filter(tenant=tenant_a, action="trash.edit", object_id=str(message.pk)).exists()
    assert AuditEntry.objects.filter(tenant=tenant_a, action="trash.resend", object_id=str(message.pk)).exists()


def test_resent_message_failing_again_updates_the_same_row(tenant_a, alice, runtime, stub):
    version = shop_version(tenant_a, runtime, stub)
    message = trashed(process_start(version=version, body={"id": 8, "email": "still-bad"}))

    services.trash_message_resend(message=message, actor=alice)

    process = wait_process(message.correlation_id, env=runtime)
    assert process.status == Process.Status.FAILED
    rows = TrashMessage.objects.filter(correlation_id=message.correlation_id)
    assert rows.count() == 1
    row = rows.get()
    assert row.pk == message.pk
    assert row.status == TrashMessage.Status.OPEN
    assert row.attempts == 2
    assert row.revision > message.revision
    assert "trash-id" not in row.headers
    assert [e.action for e in row.edits.order_by("at", "id")] == [TrashEdit.Action.RESEND, TrashEdit.Action.FAILED]
    assert process.trashed == 1


def test_resend_after_a_version_switch_goes_to_the_enabled_versions_node(tenant_a, alice, runtime):
    v1 = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "node": ("python", {"registry": "test.answer"}), "end": "end"},
            ["start>node", "node>end"],
        ),
    )
    message = trashed(process_start(version=v1, body={"code": 1006, "message": "refused by v1"}))
    # v2: the same node key now runs a node that passes; enabling it disables v1 (nothing of v1 runs any more).
    v2 = TopologyVersion.objects.create(
        topology=v1.topology, number=2, bpmn_xml="<definitions/>", status=TopologyVersion.Status.PUBLISHED
    )
    nodes = {
        key: Node.objects.create(version=v2, key=key, name=key, kind=kind, config=config)
        for key, kind, config in [
            ("start", "start.manual", {}),
            ("node", "python", {"registry": "flowyard.noop"}),
            ("end", "end", {}),
        ]
    }
    Edge.objects.create(version=v2, key="f0", source=nodes["start"], target=nodes["node"])
    Edge.objects.create(version=v2, key="f1", source=nodes["node"], target=nodes["end"])
    ready(runtime, version_enable(v2))

    target = services.trash_resend_target(message=message)
    assert target.version == v2 and "v1 no longer runs" in target.warning
    services.trash_message_resend(message=message, actor=alice)

    process = wait_process(message.correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert process.events.filter(node_key="end").count() == 1


def test_resend_is_refused_when_the_node_is_gone_from_the_enabled_version(tenant_a, alice, runtime):
    v1 = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "node": ("python", {"registry": "test.answer"})},
            ["start>node"],
        ),
    )
    message = trashed(process_start(version=v1, body={"code": 1006}))
    v2 = TopologyVersion.objects.create(
        topology=v1.topology, number=2, bpmn_xml="<definitions/>", status=TopologyVersion.Status.PUBLISHED
    )
    Node.objects.create(version=v2, key="start", name="Start", kind="start.manual")
    version_enable(v2)

    with pytest.raises(services.TrashError, match="no longer exists in the enabled v2"):
        services.trash_message_resend(message=message, actor=alice)
    message.refresh_from_db()
    assert message.status == TrashMessage.Status.OPEN
    assert not message.edits.exists()


def test_a_refusing_workers_result_message_is_the_reason(tenant_a, runtime, stub):
    long_body = "x" * 2000
    stub.routes["/custom-node/check/process"] = lambda call: (
        400,
        {"body": long_body, "headers": {"result-code": "1006", "result-message": "customer 7 is blocked"}},
    )
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "check": ("worker", {"url": stub.url, "action": "/custom-node/check/process"}),
                "end": "end",
            },
            ["start>check", "check>end"],
        ),
    )
    message = trashed(process_start(version=version, body={"customer": 7}))
    assert message.reason == "worker HTTP 400: customer 7 is blocked"
