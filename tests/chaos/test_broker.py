"""RabbitMQ faults on servers of the scenario's own: a node's stop_app/start_app, a cluster node stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from typing import Any

import pytest

from tests.chaos.books import FULL, PARALLEL, Scenario
from tests.chaos.servers import RabbitCluster
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.management.commands.engine import GRACE_SECONDS
from topology.models import TopologyVersion
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The short form's outage still outlasts several reconnect attempts (0.5 s doubling); `make chaos` keeps 10 s.
OUTAGE_SECONDS = 10 if FULL else 3


def test_broker_restart_engines_reconnect_and_sigterm_stops_them_disconnected(tenant_a, rabbit):
    """One run for both broker-outage checks (each engine boot costs CI seconds): two engines and a recorder of its
    own reconnect by themselves after stop_app/start_app; then, with the broker stopped again, SIGTERM ends all
    three within the grace time although none is connected."""
    with RuntimeEnv("chaos-broker", amqp_url=rabbit.url) as runtime:
        engines = [runtime.start_engine("--no-recorder"), runtime.start_engine("--no-recorder")]
        recorder = runtime.start_engine("--recorder-only")
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
        rabbit.stop_app()
        try:
            time.sleep(2)  # all three are now in their reconnect loops
            started = time.monotonic()
            for proc in (*engines, recorder):
                proc.send_signal(signal.SIGTERM)
            for proc in (*engines, recorder):
                try:
                    proc.wait(timeout=GRACE_SECONDS + 5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raise AssertionError(f"SIGTERM ignored while disconnected\n{runtime.log_tail()}") from None
            took = time.monotonic() - started
        finally:
            rabbit.start_app()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)
    assert all(alive)
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
            logs = runtime.log_tail(10**6)
    finally:
        cluster.close()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)
    assert all(alive)
    # Every process connects to the first URL first: when that node is the one stopped, the engines lost their
    # connections and must have come back on a survivor by themselves (the consumers check above shows they did).
    if leader == cluster.nodes[0].name:
        assert "reconnecting to RabbitMQ" in logs
    # The stopped node led most queues (node queues, events, delay tiers); the survivors lead them all now.
    assert led >= len(before) // 2 and leader not in after.values() and set(after) == set(before), (before, after)
