"""kill -9 one of two engines in the middle of 5,000 processes: nothing is lost, duplicates are counted."""

from __future__ import annotations

import signal
import time

import pytest
from django.db.models import Count, Sum

from processes.models import Process, ProcessEvent
from processes.services import process_start_many
from tests.topology.runtime.harness import RuntimeEnv
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = 5000


@pytest.fixture(scope="module")
def runtime(django_db_setup, django_db_blocker):
    with RuntimeEnv("chaos") as env:
        env.start_engine()
        env.start_engine()
        yield env


def test_kill_9_one_engine_loses_nothing(tenant_a, runtime, capsys):
    version = make_runtime_version(
        tenant_a,
        {
            "start": "start.manual",
            "a": ("python", {"registry": "flowyard.noop"}),
            "b": ("python", {"registry": "flowyard.echo"}),
            "end": "end",
        },
        ["start>a", "a>b", "b>end"],
    )
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), minimum=2)
    process_start_many(version=version, bodies=[{"n": i, "pad": "x" * 200} for i in range(MESSAGES)])
    victim = runtime.engines[0]
    deadline = time.monotonic() + 120
    while Process.objects.filter(version=version, status=Process.Status.SUCCESS).count() < MESSAGES // 4:
        assert time.monotonic() < deadline, runtime.log_tail()
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    while Process.objects.filter(version=version, status=Process.Status.SUCCESS).count() < MESSAGES:
        assert time.monotonic() < deadline + 120, runtime.log_tail()
        time.sleep(0.2)
    processes = Process.objects.filter(version=version)
    assert processes.count() == MESSAGES
    assert not processes.exclude(status=Process.Status.SUCCESS).exists()
    assert not processes.exclude(total=4).exists() and not processes.exclude(done=4).exists()
    reached_end = ProcessEvent.objects.filter(process__version=version, node_key="end")
    assert reached_end.values("process").distinct().count() == MESSAGES
    # Every (process, message) run is recorded exactly once; repeats only count as duplicates.
    assert (
        not ProcessEvent.objects.filter(process__version=version)
        .values("process", "message_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    duplicates = processes.aggregate(total=Sum("duplicates"))["total"] or 0
    with capsys.disabled():
        print(f"\nchaos: {MESSAGES} processes finished after kill -9; redelivered duplicates counted: {duplicates}")
