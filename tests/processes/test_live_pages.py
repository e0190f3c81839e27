"""What the live pages show: payloads only where kept, result words, waits as waits, search, bulk terminate."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django.utils import timezone

from processes.models import Process, ProcessPayload
from tests.topology.runtime_factories import make_runtime_version
from topology.models import TopologyVersion
from topology.runtime.events import EventBatch, NodeRun
from topology.runtime.recorder import record_batches

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(tenant_a):
    nodes = {"start": "start.manual", "kept": ("python", {"keepPayload": True}), "plain": "python", "end": "end"}
    version = make_runtime_version(tenant_a, nodes, ["start>kept", "kept>plain", "plain>end"], enable=False)
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    return version


def _record(version, process, key, mid, code=0, payload=None):
    node = version.nodes.get(key=key)
    return NodeRun(
        correlation_id=process.correlation_id,
        message_id=mid,
        tenant_id=version.topology.tenant_id,
        version_id=version.pk,
        node_id=node.pk,
        node_key=key,
        result_code=code,
        result_message="",
        started_at=time.time(),
        duration_ms=1.5,
        payload=payload,
    )


def test_payloads_are_kept_only_where_the_engine_sent_them(alice_client, tenant_a, version):
    process = Process.objects.create(
        tenant=tenant_a, version=version, correlation_id="corr-payload", started_at=timezone.now(), total=3
    )
    record_batches(
        [
            EventBatch(
                engine="test",
                runs=[
                    _record(version, process, "kept", "m1", payload={"in": '{"name": "Ada"}', "out": ['{"ok": 1}']}),
                    _record(version, process, "plain", "m2"),
                    _record(version, process, "plain", "m3", code=1004),
                ],
            )
        ]
    )
    assert list(ProcessPayload.objects.values_list("message_id", flat=True)) == ["m1"]
    page = alice_client.get(reverse("process_detail", args=[process.pk])).content.decode()
    assert page.count('data-testid="show-payload"') == 1
    assert "Ada" not in page  # on demand only
    assert "limited" in page and "waits" in page  # 1004 is a wait, in words
    fragment = alice_client.get(reverse("process_payload", args=[process.pk, "m1"])).content.decode()
    assert "Ada" in fragment and "ok" in fragment
    summary = {
        row["node_key"]: row["runs"]
        for row in alice_client.get(reverse("process_detail", args=[process.pk])).context["summary"]
    }
    assert summary == {"kept": 1, "plain": 1}  # the 1004 wait is not a run
    path = alice_client.get(reverse("process_path", args=[process.pk])).json()
    assert path["nodes"]["plain"] == {"runs": 1, "waits": 1, "failed": 0, "total_ms": 1.5}


def test_search_by_correlation_id_and_bulk_terminate(alice_client, tenant_a, version):
    one = Process.objects.create(tenant=tenant_a, version=version, correlation_id="abc123", started_at=timezone.now())
    two = Process.objects.create(tenant=tenant_a, version=version, correlation_id="xyz789", started_at=timezone.now())
    found = alice_client.get(reverse("process_list"), {"q": "abc"}).content.decode()
    assert "abc123" in found and "xyz789" not in found
    rows = alice_client.get(reverse("process_list"), {"q": "xyz"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in rows.content and b"xyz789" in rows.content  # the htmx fragment the socket re-reads
    done = Process.objects.create(
        tenant=tenant_a, version=version, correlation_id="done1", started_at=timezone.now(), status="success"
    )
    response = alice_client.post(reverse("process_bulk_terminate"), {"ids": [one.pk, done.pk]}, follow=True)
    assert "1 process terminated. 1 had already finished." in response.content.decode()
    one.refresh_from_db()
    two.refresh_from_db()
    done.refresh_from_db()
    assert (one.status, two.status, done.status) == ("terminated", "in_progress", "success")
