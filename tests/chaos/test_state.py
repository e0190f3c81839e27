"""Redis lost or frozen, the database locked: joins and the terminated set recover, nothing trashed by the outage."""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connection

from processes.models import Process
from processes.services import process_start_many, process_terminate
from tests.chaos.books import Scenario
from tests.chaos.servers import lock_sqlite
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import state
from topology.runtime.results import TERMINATED
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 10


def test_redis_restarted_empty(tenant_a, own_redis):
    with RuntimeEnv("chaos-redis", redis_url=own_redis.url) as runtime:
        runtime.start_engine()
        runtime.start_engine()
        scenario = Scenario(runtime, tenant_a, "Redis killed, restarted empty")
        scenario.wait_ready(engines=2)
        scenario.push()
        scenario.wait_finished(0.2)
        own_redis.kill()
        own_redis.start()
        scenario.healed()
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)


@pytest.mark.chaos_full
def test_redis_unreachable(tenant_a, own_redis):
    with RuntimeEnv("chaos-redisfrozen", redis_url=own_redis.url) as runtime:
        runtime.start_engine()
        runtime.start_engine()
        scenario = Scenario(runtime, tenant_a, f"Redis unreachable {OUTAGE_SECONDS} s")
        scenario.wait_ready(engines=2)
        scenario.push()
        scenario.wait_finished(0.2)
        own_redis.freeze(OUTAGE_SECONDS)
        scenario.healed()
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)


@pytest.mark.chaos_full
def test_database_locked(tenant_a):
    assert connection.vendor == "sqlite", "make chaos runs on SQLite: the scenario locks its database file"
    with RuntimeEnv("chaos-db") as runtime:
        runtime.start_engine("--no-recorder")
        runtime.start_engine("--no-recorder")
        runtime.start_engine("--recorder-only")
        scenario = Scenario(runtime, tenant_a, f"database locked {OUTAGE_SECONDS} s")
        scenario.wait_ready(engines=2)
        scenario.push()
        scenario.wait_finished(0.2)
        lock_sqlite(connection.settings_dict["NAME"], OUTAGE_SECONDS).join()
        scenario.healed()
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)


def test_terminated_set_survives_redis_loss_and_engine_restart(tenant_a, own_redis):
    """A terminated process's delayed messages are dropped by an engine that started after Redis came back empty."""
    with RuntimeEnv("chaos-terminated", redis_url=own_redis.url) as runtime:
        engine = runtime.start_engine()
        version = make_runtime_version(
            tenant_a,
            {"start": "start.manual", "pause": ("wait", {"waitSeconds": 4}), "end": "end"},
            ["start>pause", "pause>end"],
        )
        for node in build_version(version).nodes.values():
            runtime.wait_consumers(node.queues(), timeout=120)
        processes = process_start_many(version=version, bodies=[{"n": i} for i in range(6)])
        victims, others = processes[:3], processes[3:]
        time.sleep(1)  # the first runs are done: the messages wait in the delay tier
        for process in victims:
            process_terminate(process=process)
        assert {p.correlation_id for p in victims} <= state.terminated_all()
        own_redis.kill()
        own_redis.start()
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        runtime.start_engine()  # knows nothing from broadcasts: only the database can tell it
        deadline = time.monotonic() + 60
        rows = Process.objects.filter(pk__in=[p.pk for p in others])
        while rows.filter(status=Process.Status.IN_PROGRESS).exists():
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.2)
        time.sleep(1)
    for process in victims:
        codes = set(process.events.filter(node_key="pause").values_list("result_code", flat=True))
        assert TERMINATED in codes, codes
        assert not process.events.filter(node_key="end").exists()
    assert not Process.objects.filter(pk__in=[p.pk for p in others]).exclude(status=Process.Status.SUCCESS).exists()
