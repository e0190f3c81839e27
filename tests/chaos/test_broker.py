"""RabbitMQ faults on servers of the scenario's own: a node's stop_app/start_app, a cluster node stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from typing import Any

import pytest

from tests.chaos.books import PARALLEL, Scenario
from tests.chaos.servers import RabbitCluster
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.management.commands.engine import GRACE_SECONDS
from topology.models import TopologyVersion
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 10


def test_broker_restart_engines_reconnect(tenant_a, rabbit):
    with RuntimeEnv("chaos-broker", amqp_url=rabbit.url) as runtime:
        runtime.start_engine()
        runtime.start_engine()
        scenario = Scenario(runtime, tenant_a, f"RabbitMQ stop_app {OUTAGE_SECONDS} s, start_app")
        scenario.wait_ready(engines=2)
        scenario.push()
        scenario.wait_finished(0.2)
        rabbit.stop_app()
        time.sleep(OUTAGE_SECONDS)
        rabbit.start_app()
        scenario.healed()
        row = scenario.finish()
        alive = [proc.poll() is None for proc in runtime.engines]
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)
    assert all(alive)


def test_sigterm_stops_a_disconnected_engine_and_recorder_within_grace(tenant_a, rabbit):
    with RuntimeEnv("chaos-sigterm", amqp_url=rabbit.url) as runtime:
        engine = runtime.start_engine("--no-recorder")
        recorder = runtime.start_engine("--recorder-only")
        scenario = Scenario(runtime, tenant_a, "unused", linear=1, parallel=0)
        scenario.wait_ready()
        rabbit.stop_app()
        try:
            time.sleep(2)  # both are now in their reconnect loops
            started = time.monotonic()
            for proc in (engine, recorder):
                proc.send_signal(signal.SIGTERM)
            for proc in (engine, recorder):
                try:
                    proc.wait(timeout=GRACE_SECONDS + 5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raise AssertionError(f"SIGTERM ignored while disconnected\n{runtime.log_tail()}") from None
            took = time.monotonic() - started
        finally:
            rabbit.start_app()
    assert took < GRACE_SECONDS, took
    assert "reconnecting to RabbitMQ" in runtime.log_tail(200)


def wait_version(tenant: Any) -> TopologyVersion:
    """Processes that wait 3 s in the delay tiers, so many are there when the node stops: they must outlive it."""
    return make_runtime_version(
        tenant,
        {
            "start": "start.manual",
            "pause": ("wait", {"waitSeconds": 3}),
            "a": ("python", {"registry": "flowyard.noop"}),
            "end": "end",
        },
        ["start>pause", "pause>a", "a>end"],
    )


@pytest.mark.chaos_full
def test_cluster_node_leading_the_quorum_queues_stops(tenant_a):
    cluster = RabbitCluster().start()
    try:
        with RuntimeEnv("chaos-cluster", amqp_url=cluster.url) as runtime:
            runtime.start_engine()
            runtime.start_engine()
            scenario = Scenario(runtime, tenant_a, "3-node cluster: the quorum leaders' node stopped")
            scenario.add("waiting", wait_version(tenant_a), PARALLEL)
            scenario.wait_ready(engines=2)
            before = cluster.leaders(runtime.prefix + ".")
            [(leader, led)] = Counter(before.values()).most_common(1)
            scenario.push()
            scenario.wait_finished(0.2)
            cluster.node(leader).stop_app()
            scenario.healed()  # the node stays down: recovery runs from its stop
            # Engines that were connected to it come back on a survivor and consume every queue again.
            queues = [
                q for v in scenario.versions.values() if v for n in build_version(v).nodes.values() for q in n.queues()
            ]
            runtime.wait_consumers(queues, minimum=2, timeout=60)
            row = scenario.finish()
            after = cluster.leaders(runtime.prefix + ".")
            alive = [proc.poll() is None for proc in runtime.engines]
            logs = runtime.log_tail(400)
    finally:
        cluster.close()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)
    assert all(alive) and "reconnecting to RabbitMQ" in logs  # connections to the stopped node were lost
    # The stopped node led most queues (node queues, events, delay tiers); the survivors lead them all now.
    assert led >= len(before) // 2 and leader not in after.values() and set(after) == set(before), (before, after)
