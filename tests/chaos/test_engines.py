"""Engine and recorder processes killed with SIGKILL mid-run: nothing is lost, duplicates are counted."""

from __future__ import annotations

import signal

import pytest

from tests.chaos.books import Scenario
from tests.topology.runtime.harness import RuntimeEnv

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_9_one_of_two_engines(tenant_a):
    with RuntimeEnv("chaos-kill1") as runtime:
        runtime.start_engine()
        runtime.start_engine()
        scenario = Scenario(runtime, tenant_a, "kill -9 one of two engines")
        scenario.wait_ready(engines=2)
        scenario.push()
        scenario.wait_finished(0.2)
        kill(runtime.engines[0])
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)


@pytest.mark.chaos_full
def test_kill_9_only_engine_then_restart(tenant_a):
    with RuntimeEnv("chaos-killonly") as runtime:
        runtime.start_engine()
        scenario = Scenario(runtime, tenant_a, "kill -9 the only engine, restart")
        scenario.wait_ready()
        scenario.push()
        scenario.wait_finished(0.2)
        kill(runtime.engines[0])
        runtime.start_engine()
        scenario.healed()
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)


@pytest.mark.chaos_full
def test_kill_9_recorder(tenant_a):
    with RuntimeEnv("chaos-killrec") as runtime:
        runtime.start_engine("--no-recorder")
        recorder = runtime.start_engine("--recorder-only")
        scenario = Scenario(runtime, tenant_a, "kill -9 the recorder, restart")
        scenario.wait_ready()
        scenario.push()
        scenario.wait_finished(0.2)
        kill(recorder)
        runtime.start_engine("--recorder-only")
        scenario.healed()
        row = scenario.finish()
    assert (row.lost, row.stuck, row.trashed) == (0, 0, 0), scenario.report(row)
