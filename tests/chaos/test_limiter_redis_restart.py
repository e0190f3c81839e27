"""The limiter's Redis restarted mid-run: limited nodes hold their messages, nothing is lost or run unlimited.

The test runs its own redis-server on a free port (never the shared one) and points the engines at it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from django.test import override_settings

from admin_ui.models import Application, ApplicationInstall
from limiter.models import Limit
from processes.models import Process
from processes.services import process_start_many
from tests.topology.runtime.harness import RuntimeEnv, Stub
from tests.topology.runtime.test_limits import max_in_window
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import state
from topology.runtime.ratelimit import audit_log, install_key
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = 40
RATE = 5


class OwnRedis:
    """A throwaway redis-server on a free port, stopped and started again by the test."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.dir = Path(tempfile.mkdtemp(prefix="fytest-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([*args, "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "own redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class OwnRedisEnv(RuntimeEnv):
    def __init__(self, name: str, redis_url: str) -> None:
        super().__init__(name)
        self.redis_url = redis_url

    def env(self) -> dict[str, str]:
        return {**super().env(), "REDIS_URL": self.redis_url}


@pytest.fixture(scope="module")
def own_redis():
    server = OwnRedis()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def runtime(own_redis, django_db_setup, django_db_blocker):
    with override_settings(REDIS_URL=own_redis.url), OwnRedisEnv("redisrestart", own_redis.url) as env:
        env.start_engine()
        env.start_engine()
        yield env
        state._client.cache_clear()


def test_redis_restarted_mid_run_loses_nothing_and_never_runs_unlimited(tenant_a, runtime, own_redis):
    stub = Stub()
    stub.routes["/r"] = lambda call: (200, {"ok": True})
    app = Application.objects.create(key="restart-shop", name="Shop")
    install = ApplicationInstall.objects.create(
        tenant=tenant_a, application=app, name="shop", settings={"base_url": stub.url}
    )
    key = install_key(tenant_a.pk, app.key)
    Limit.objects.create(tenant=tenant_a, application=app, key=key, amount=RATE, seconds=1)
    version = make_runtime_version(
        tenant_a,
        {"start": "start.manual", "call": ("connector", {"path": "/r"}, {"install": install}), "end": "end"},
        ["start>call", "call>end"],
    )
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), minimum=2, timeout=90)
    time.sleep(0.5)
    try:
        process_start_many(version=version, bodies=[{"n": i} for i in range(MESSAGES)])
        deadline = time.monotonic() + 30
        while len(stub.calls) < 10:
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.05)
        own_redis.stop()
        stopped = time.time()
        time.sleep(3)
        own_redis.start()
        restarted = time.time()
        deadline = time.monotonic() + 90
        while Process.objects.filter(version=version, status=Process.Status.SUCCESS).count() < MESSAGES:
            assert time.monotonic() < deadline, runtime.log_tail()
            time.sleep(0.2)
    finally:
        stub.close()
    times = sorted(c["at"] for c in stub.calls)
    assert len(times) == MESSAGES  # every message called once: none lost, none trashed, none doubled
    assert not Process.objects.filter(version=version).exclude(status=Process.Status.SUCCESS).exists()
    # Nothing ran while Redis was down (calls admitted just before the stop may still be arriving).
    assert not [t for t in times if stopped + 0.5 < t < restarted], times
    # The restarted Redis counted only what ran afterwards, within the limit.
    after = audit_log(key)
    assert len(after) == len([t for t in times if t > restarted - 0.5]) and max_in_window(after) <= RATE
    assert "limiter unavailable" in runtime.log_tail(200)
