"""A message that kills the engine every time it runs: bounded redeliveries, then the trash; the rest flows."""

from __future__ import annotations

import time

import pytest

from processes.models import Process
from processes.services import process_start_many
from tests.chaos.books import ROWS, Row
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime.spec import build_version
from trash.models import TrashMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIMIT = 2  # the smallest limit that still shows a redelivery being run again before the trash
INNOCENT = 100


def test_poison_message_goes_to_trash_after_bounded_redeliveries(tenant_a):
    with RuntimeEnv("chaos-poison") as runtime:
        runtime.start_engine(
            supervised=True, env={"FLOWYARD_DELIVERY_LIMIT": str(LIMIT), "FLOWYARD_SUPERVISE_MAX_PAUSE": "2"}
        )
        version = make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                # prefetch 1: a crash returns only the poison itself from this queue, not innocent neighbours
                "crash": ("python", {"registry": "test.crash"}, {"prefetch": 1}),
                "end": "end",
            },
            ["start>crash", "crash>end"],
        )
        for node in build_version(version).nodes.values():
            runtime.wait_consumers(node.queues(), timeout=120)
        started = time.monotonic()
        poison = process_start_many(version=version, bodies=[{"poison": True}])[0]
        others = process_start_many(version=version, bodies=[{"n": i} for i in range(INNOCENT)])
        processes = Process.objects.filter(version=version)
        deadline = started + 180
        while processes.filter(status=Process.Status.IN_PROGRESS).exists():
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.2)
        took = time.monotonic() - started
        crashes = runtime.log_tail(1000).count("exited with 3")
    poison.refresh_from_db()
    trash = TrashMessage.objects.get(correlation_id=poison.correlation_id)
    ROWS.append(
        Row(
            fault=f"poison message (delivery limit {LIMIT})",
            processes=INNOCENT + 1,
            lost=0,
            stuck=processes.filter(status=Process.Status.IN_PROGRESS).count(),
            trashed=processes.filter(status=Process.Status.FAILED).count(),
            duplicates=sum(processes.values_list("duplicates", flat=True)),
            recovery=took,
        )
    )
    assert poison.status == Process.Status.FAILED
    assert "without being acknowledged" in trash.reason and trash.node_key == "crash"
    # The copy that crashes counts LIMIT deliveries; a crash that also lost the upstream input's ack makes the
    # upstream publish a fresh copy, which the per-message-id counter stops after one more crash.
    assert LIMIT <= crashes <= 2 * LIMIT, runtime.log_tail(200)
    assert not processes.filter(pk__in=[p.pk for p in others]).exclude(status=Process.Status.SUCCESS).exists()
