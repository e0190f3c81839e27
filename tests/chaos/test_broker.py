"""RabbitMQ stop_app/start_app mid-run (a node of the scenario's own): engines reconnect by themselves."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.chaos.books import Scenario
from tests.topology.runtime.harness import RuntimeEnv
from topology.management.commands.engine import GRACE_SECONDS

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
