"""Remote workers speak Orchesty's protocol exactly: a worker built on Orchesty's own Node.js SDK, for each result."""

from __future__ import annotations

import json

import pytest

from admin_ui.models import Application, ApplicationInstall
from processes.models import Process
from processes.services import process_start, process_start_many
from tests.topology.runtime.harness import SdkWorker, runs, wait_process
from tests.topology.runtime.test_limits import max_in_window
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime.ratelimit import audit_log
from topology.runtime.spec import build_version
from trash.models import TrashMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker():
    sdk = SdkWorker()
    yield sdk
    sdk.close()


def flow(runtime, tenant, nodes, edges):
    first = next(iter(nodes))
    version = make_runtime_version(tenant, {"start": "start.manual", **nodes}, [f"start>{first}", *edges])
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues())
    return version


def worker_node(worker, path, **extra):
    kind = "batch" if path.startswith("/batch/") else "worker"
    return (kind, {"url": worker.url, "action": path}, extra)


def calls_of(worker, node, correlation_id):
    return [c for c in worker.calls(node) if c["headers"].get("correlation-id") == correlation_id]


def test_1001_interval_is_seconds_and_repeat_headers_go_back(tenant_a, runtime, worker):
    version = flow(
        runtime, tenant_a, {"rep": worker_node(worker, "/custom-node/repeater/process"), "end": "end"}, ["rep>end"]
    )
    body = {"times": 2, "interval": 1, "maxHops": 5}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=30, env=runtime)
    assert process.status == Process.Status.SUCCESS
    calls = calls_of(worker, "repeater", process.correlation_id)
    assert [c["headers"].get("repeat-hops") for c in calls] == [None, "1", "2"]
    assert calls[1]["headers"]["repeat-max-hops"] == "5" and calls[1]["headers"]["repeat-interval"] == "1"
    # repeat-interval 1 is one second, as Orchesty sends it (read as milliseconds it would re-call at once).
    assert calls[1]["at"] - calls[0]["at"] >= 0.9 and calls[2]["at"] - calls[1]["at"] >= 0.9


def test_1001_max_hops_bounds_the_calls_as_orchesty_counts(tenant_a, runtime, worker):
    version = flow(
        runtime, tenant_a, {"rep": worker_node(worker, "/custom-node/repeater/process"), "end": "end"}, ["rep>end"]
    )
    body = {"times": 99, "interval": 1, "maxHops": 3}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=30, env=runtime)
    assert process.status == Process.Status.FAILED
    assert len(calls_of(worker, "repeater", process.correlation_id)) == 3
    assert TrashMessage.objects.get(correlation_id=process.correlation_id).reason.startswith(
        "repeat limit reached (3 hops): hop 2"
    )


def test_1002_force_followers_by_name_from_worker_followers(tenant_a, runtime, worker):
    version = flow(
        runtime,
        tenant_a,
        {"fwd": worker_node(worker, "/custom-node/forwarder/process"), "a": "end", "b": "end"},
        ["fwd>a", "fwd>b"],
    )
    process = wait_process(process_start(version=version, body={"to": ["b"]}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert runs(process, "a") == [] and len(runs(process, "b")) == 1
    sent = json.loads(calls_of(worker, "forwarder", process.correlation_id)[0]["headers"]["worker-followers"])
    assert sorted(sent, key=lambda f: f["id"]) == [{"name": "a", "id": "a"}, {"name": "b", "id": "b"}]
    # The engine's own headers never leak to the next node.
    assert all(e.result_code == 0 for e in runs(process, "b"))


def test_1004_limiter_key_goes_through_the_limiter_and_ends(tenant_a, runtime, worker):
    version = flow(
        runtime, tenant_a, {"lim": worker_node(worker, "/custom-node/limited/process"), "end": "end"}, ["lim>end"]
    )
    processes = process_start_many(
        version=version, bodies=[{"key": "shop", "seconds": 1, "amount": 2, "n": i} for i in range(6)]
    )
    for process in processes:
        assert wait_process(process.correlation_id, timeout=30, env=runtime).status == Process.Status.SUCCESS
    for process in processes:
        calls = calls_of(worker, "limited", process.correlation_id)
        assert len(calls) == 2  # refused once with the key, then admitted by the limiter: no endless re-calls
        assert calls[1]["headers"]["limiter-key"] == "shop|;1;2"
    # The worker's key counts per tenant, 2 per second: refused calls and re-calls together never exceed it.
    admitted = audit_log(f"{tenant_a.pk}:shop|")
    assert len(admitted) >= 6 and max_in_window(admitted) <= 2


def test_batch_items_do_not_carry_the_parents_cursor(tenant_a, runtime, worker):
    version = flow(
        runtime,
        tenant_a,
        {
            "outer": worker_node(worker, "/batch/pages/action"),
            "inner": worker_node(worker, "/batch/pages/action"),
            "end": "end",
        },
        ["outer>inner", "inner>end"],
    )
    process = wait_process(process_start(version=version, body={}).correlation_id, timeout=60, env=runtime)
    assert process.status == Process.Status.SUCCESS
    # Two pages of three items, each item through two more pages of three: 6 x 6 = 36 items reach the end.
    assert len(runs(process, "end")) == 36
    inner_first_pages = [c for c in calls_of(worker, "pages", process.correlation_id) if "cursor" not in c["headers"]]
    assert len(inner_first_pages) == 1 + 6


def test_failed_answers_put_result_message_into_the_trash_reason(tenant_a, runtime, worker):
    version = flow(
        runtime, tenant_a, {"fail": worker_node(worker, "/custom-node/failer/process"), "end": "end"}, ["fail>end"]
    )
    refused = wait_process(process_start(version=version, body={"message": "order 7 refused"}).correlation_id)
    thrown = wait_process(process_start(version=version, body={"throw": "boom"}).correlation_id)
    assert TrashMessage.objects.get(correlation_id=refused.correlation_id).reason == "order 7 refused"
    # A thrown error is the SDK's HTTP 400 with the message in result-message, not the raw envelope.
    assert TrashMessage.objects.get(correlation_id=thrown.correlation_id).reason == (
        "worker HTTP 400: Error occurred: boom"
    )


def test_worker_500_retries_by_default_or_trashes_at_once_as_orchesty(tenant_a, runtime, stub):
    stub.routes["/w500"] = lambda call: (500, {"body": "", "headers": {"result-message": "database down"}})
    retrying = {"attempts": 2, "interval": 0.1}
    orchesty = {"attempts": 2, "interval": 0.1, "retry_on": "429,timeout,connection"}
    version = flow(
        runtime, tenant_a, {"retry": ("worker", {"url": stub.url, "action": "/w500"}, {"retry": retrying})}, []
    )
    first = wait_process(process_start(version=version, body={}).correlation_id, timeout=30, env=runtime)
    assert [e.result_code for e in runs(first, "retry") if e.result_code != 2010] == [2001, 2001, 2006]
    reason = TrashMessage.objects.get(correlation_id=first.correlation_id).reason
    assert reason == "retries exhausted after 3 attempts: worker HTTP 500: database down"
    # Leaving 5xx out of retry_on (the panel's "Retry on") trashes a worker's 500 at once, as Orchesty does.
    trash_version = flow(
        runtime, tenant_a, {"trash": ("worker", {"url": stub.url, "action": "/w500"}, {"retry": orchesty})}, []
    )
    second = wait_process(process_start(version=trash_version, body={}).correlation_id, timeout=30, env=runtime)
    assert [e.result_code for e in runs(second, "trash")] == [2006]


def test_a_worker_bound_to_an_install_calls_the_install_base_url(tenant_a, runtime, worker):
    # The worker's URL (and credentials) live with the install, not in the node.
    app, _ = Application.objects.get_or_create(key="sdk-workers", defaults={"name": "SDK workers"})
    install = ApplicationInstall.objects.create(
        tenant=tenant_a, application=app, name="sdk", settings={"base_url": worker.url, "auth_type": "none"}
    )
    nodes = {
        "rep": ("worker", {"action": "/custom-node/repeater/process"}, {"install": install}),
        "end": "end",
    }
    version = flow(runtime, tenant_a, nodes, ["rep>end"])
    body = {"times": 0}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=30, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert len(calls_of(worker, "repeater", process.correlation_id)) == 1
