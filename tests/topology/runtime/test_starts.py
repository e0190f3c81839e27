"""Starts: REST (token), webhook, cron (beat row + task), manual page; bad input publishes nothing; terminate."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from admin_ui.lookup_cache import lookups_changed
from processes.models import Process
from processes.tasks import cron_start
from tests.admin_ui.factories import make_token
from tests.processes.lane_support import lane_call
from tests.topology.runtime.harness import wait_process
from tests.topology.runtime_factories import make_runtime_version
from topology.cron import cron_sync
from topology.models import TopologyVersion
from topology.runtime.spec import build_version
from topology.webhooks import (
    signature_for,
    webhook_revoke,
    webhook_signing_secret,
    webhook_signing_set,
    webhook_urls,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def simple(tenant, runtime, start_kind="start.manual", config=None, name=None):
    version = make_runtime_version(
        tenant, {"start": (start_kind, config or {}), "end": "end"}, ["start>end"], name=name
    )
    runtime.wait_consumers(build_version(version).nodes["start"].queues())
    return version


def queue_depth(runtime, version):
    conn, ch = runtime.channel()
    try:
        return ch.queue_declare(
            queue=build_version(version).nodes["start"].base_queue, passive=True
        ).method.message_count
    finally:
        conn.close()


def test_rest_start_with_token_returns_correlation_id(tenant_a, runtime):
    version = simple(tenant_a, runtime, name="orders")
    key = make_token(tenant_a, ["start"], name="ci").key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post("/api/topologies/orders/start", data=json.dumps({"id": 1}), content_type="application/json")
    assert response.status_code == 202, response.content
    process = wait_process(response.json()["correlation_id"], env=runtime)
    assert process.status == Process.Status.SUCCESS and process.version == version


def test_a_rest_start_with_its_target_cached_makes_one_query(tenant_a, runtime, django_assert_num_queries):
    simple(tenant_a, runtime, name="cheap")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(tenant_a, ['start'], name='ci').key}")
    first = client.post("/api/topologies/cheap/start", data="{}", content_type="application/json")
    assert first.status_code == 202, first.content
    with django_assert_num_queries(1):  # the token with its creator's current role; no topology, version or row
        again = client.post("/api/topologies/cheap/start", data='{"n": 2}', content_type="application/json")
    assert again.status_code == 202, again.content
    for response in (first, again):
        assert wait_process(response.json()["correlation_id"], env=runtime).status == Process.Status.SUCCESS


def test_the_webhook_lane_answers_202_after_the_confirm_and_the_process_runs(tenant_a, runtime):
    version = simple(tenant_a, runtime, start_kind="start.webhook", name="lane")
    path = "/hooks/" + webhook_urls(topology=version.topology)["start"].rsplit("/hooks/", 1)[1]
    status, _, content = lane_call(path, json.dumps({"event": "paid"}).encode())
    assert status == 202, content
    process = wait_process(json.loads(content)["correlation_id"], env=runtime)
    assert process.status == Process.Status.SUCCESS and process.version == version


def test_the_rest_lane_answers_202_after_the_confirm_and_the_process_runs(tenant_a, runtime):
    version = simple(tenant_a, runtime, name="lane-rest")
    headers = {"authorization": f"Bearer {make_token(tenant_a, ['start'], name='ci').key}"}
    status, _, content = lane_call("/api/topologies/lane-rest/start", json.dumps({"id": 1}).encode(), headers=headers)
    assert status == 202, content
    process = wait_process(json.loads(content)["correlation_id"], env=runtime)
    assert process.status == Process.Status.SUCCESS and process.version == version


def test_rest_start_bad_input_is_4xx_and_publishes_nothing(tenant_a, runtime, settings):
    version = simple(tenant_a, runtime, name="strict")
    key = make_token(tenant_a, ["start"], name="ci").key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = "/api/topologies/strict/start"
    runtime.stop_engines()  # nothing may consume, so the queue depth shows what was published
    try:
        bad_json = client.post(url, data="{not json", content_type="application/json")
        assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
        unknown = client.post("/api/topologies/nope/start", data="{}", content_type="application/json")
        assert unknown.status_code == 404
        settings.FLOWYARD_MAX_PAYLOAD_BYTES = 10
        too_big = client.post(url, data=json.dumps({"x": "y" * 50}), content_type="application/json")
        assert too_big.status_code == 413
        settings.FLOWYARD_MAX_PAYLOAD_BYTES = 1024 * 1024
        TopologyVersion.objects.filter(pk=version.pk).update(enabled=False)
        lookups_changed()  # as the disable service does: the name's target was cached by the first request
        disabled = client.post(url, data="{}", content_type="application/json")
        assert disabled.status_code == 409
        read_only = make_token(tenant_a, ["read"], name="ro").key
        TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
        forbidden = Client(HTTP_AUTHORIZATION=f"Bearer {read_only}").post(
            url, data="{}", content_type="application/json"
        )
        assert forbidden.status_code == 403
        assert queue_depth(runtime, version) == 0
        assert not Process.objects.filter(version=version).exists()
    finally:
        runtime.start_engine()


def test_webhook_start_202_and_revocation(tenant_a, runtime):
    version = simple(tenant_a, runtime, start_kind="start.webhook")
    urls = webhook_urls(topology=version.topology)
    assert list(urls) == ["start"]
    path = "/hooks/" + urls["start"].rsplit("/hooks/", 1)[1]
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data=json.dumps({"event": "paid"}), content_type="application/json")
    assert response.status_code == 202, response.content
    assert wait_process(response.json()["correlation_id"], env=runtime).status == Process.Status.SUCCESS
    assert client.post(path, data="{oops", content_type="application/json").status_code == 400
    webhook_revoke(webhook=version.topology.webhooks.get())
    assert client.post(path, data="{}", content_type="application/json").status_code == 404
    assert Process.objects.filter(version=version).count() == 1


def test_signed_webhook_starts_with_the_right_signature_only(tenant_a, runtime):
    version = simple(tenant_a, runtime, start_kind="start.webhook", name="signed")
    webhook = webhook_signing_set(webhook=version.topology.webhooks.get(), signed=True)
    path = "/hooks/" + webhook_urls(topology=version.topology)["start"].rsplit("/hooks/", 1)[1]
    body = json.dumps({"event": "paid"}).encode()
    client = Client(enforce_csrf_checks=True)
    assert client.post(path, data=body, content_type="application/json").status_code == 401
    signature = signature_for(webhook_signing_secret(webhook), body)
    response = client.post(path, data=body, content_type="application/json", HTTP_X_FLOWYARD_SIGNATURE=signature)
    assert response.status_code == 202, response.content
    assert wait_process(response.json()["correlation_id"], env=runtime).status == Process.Status.SUCCESS
    assert Process.objects.filter(version=version).count() == 1


def test_cron_beat_row_follows_enabled_version_and_task_starts(tenant_a, runtime):
    version = simple(tenant_a, runtime, start_kind="start.cron", config={"cron": "*/5 * * * *"})
    row = PeriodicTask.objects.get(name=f"flowyard-cron:{version.topology_id}:start")
    assert row.task == "processes.tasks.cron_start" and row.crontab.minute == "*/5"
    assert json.loads(row.args) == [version.pk, "start"]
    correlation_id = cron_start(*json.loads(row.args))
    assert wait_process(correlation_id, env=runtime).status == Process.Status.SUCCESS
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=False)
    cron_sync(topology=version.topology)
    assert not PeriodicTask.objects.filter(name__startswith=f"flowyard-cron:{version.topology_id}:").exists()
    assert cron_start(version.pk, "start") is None


def test_manual_start_page_and_terminate(tenant_a, alice_client, runtime):
    version = make_runtime_version(
        tenant_a,
        {"start": "start.manual", "loop": ("python", {"registry": "test.answer"}), "end": "end"},
        ["start>loop", "loop>end"],
    )
    runtime.wait_consumers(build_version(version).nodes["loop"].queues())
    url = reverse("topology_start", args=[version.topology_id])
    bad = alice_client.post(url, {"payload": "{broken"})
    assert bad.status_code == 400 and b"not valid JSON" in bad.content
    body = json.dumps({"code": 1001, "headers": {"repeat-interval": "100", "repeat-max-hops": "1000"}})
    response = alice_client.post(url, {"payload": body})
    assert response.status_code == 302
    process = Process.objects.get(version=version)
    assert response["Location"] == reverse("process_detail", args=[process.pk])
    page = alice_client.get(response["Location"])
    assert page.status_code == 200 and process.correlation_id.encode() in page.content
    terminate = alice_client.post(reverse("process_terminate", args=[process.pk]))
    assert terminate.status_code == 302
    process = wait_process(process.correlation_id)
    assert process.status == Process.Status.TERMINATED
    listing = alice_client.get(reverse("process_list"), {"status": "terminated"})
    assert process.correlation_id[:10].encode() in listing.content
    empty = alice_client.get(reverse("process_list"), {"status": "success"})
    assert b"No matching processes" in empty.content


def test_bulk_start_publishes_every_message_with_confirms(tenant_a, runtime):
    from processes.services import process_start_many

    version = simple(tenant_a, runtime, name="Bulk start")
    processes = process_start_many(version=version, bodies=[{"n": n} for n in range(50)])
    finished = [wait_process(p.correlation_id, env=runtime) for p in processes]
    assert [p.status for p in finished] == [Process.Status.SUCCESS] * 50


def test_start_publish_to_a_queue_that_does_not_exist_raises(runtime):
    from pika.exceptions import AMQPError

    from topology.runtime.broker import Outgoing
    from topology.runtime.start_publisher import start_publisher

    message = Outgoing(routing_key="no.such.queue", body=b"{}", headers={}, message_id="m-1")
    with pytest.raises(AMQPError, match=r"unroutable: no\.such\.queue"):
        start_publisher.publish([[message, message]], timeout=10)
