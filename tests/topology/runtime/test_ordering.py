"""Ordered nodes keep order across two engines; ordering-key mode keeps order per key across shards."""

from __future__ import annotations

import json

import pytest

from processes.models import Process
from processes.services import process_start
from tests.topology.runtime.harness import wait_process
from tests.topology.runtime.nodes_for_tests import record_key
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import state
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENGINES = 2


def seen(correlation_id):
    return [json.loads(v) for v in state.client().lrange(record_key(correlation_id, "seen"), 0, -1)]


def test_1000_messages_through_an_ordered_node_with_two_engines_arrive_in_order(tenant_a, runtime):
    version = make_runtime_version(
        tenant_a,
        {
            "start": "start.manual",
            "split": ("splitter", {"expression": "items"}),
            "ordered": ("python", {"registry": "test.record"}, {"ordered": True}),
            "end": "end",
        },
        ["start>split", "split>ordered", "ordered>end"],
    )
    nodes = build_version(version).nodes
    assert nodes["ordered"].queue_arguments()["x-single-active-consumer"] is True
    # A single-active-consumer queue reports only its active consumer; the plain end queue shows both engines.
    runtime.wait_consumers(nodes["ordered"].queues())
    runtime.wait_consumers(nodes["end"].queues(), minimum=2)
    body = {"items": [{"seq": i} for i in range(1000)]}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=90, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert [s for _, s in seen(process.correlation_id)] == list(range(1000))


def test_ordering_key_keeps_per_key_order(tenant_a, runtime):
    version = make_runtime_version(
        tenant_a,
        {
            "start": "start.manual",
            "split": ("splitter", {"expression": "items"}),
            "sharded": ("python", {"registry": "test.record", "orderingKey": "key", "shards": 3}),
            "end": "end",
        },
        ["start>split", "split>sharded", "sharded>end"],
    )
    nodes = build_version(version).nodes
    assert len(nodes["sharded"].queues()) == 3
    runtime.wait_consumers(nodes["sharded"].queues())
    runtime.wait_consumers(nodes["end"].queues(), minimum=2)
    body = {"items": [{"key": f"k{i % 7}", "seq": i} for i in range(300)]}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=60, env=runtime)
    assert process.status == Process.Status.SUCCESS
    records = seen(process.correlation_id)
    assert len(records) == 300
    for key in {k for k, _ in records}:
        sequence = [s for k, s in records if k == key]
        assert sequence == sorted(sequence), key
