"""Remote systems misbehaving (local stubs): slow, flapping, down for a while, answering garbage.

Retries and the trash behave as configured, and the circuit breaker stops calling a remote that is down.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from admin_ui.models import Application, ApplicationInstall
from tests.chaos.books import Scenario
from tests.topology.runtime.harness import RuntimeEnv, Stub
from tests.topology.runtime_factories import make_runtime_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.chaos_full]

COUNT = 100
RETRY = {"attempts": 6, "interval": 0.1, "backoff": 2, "max_delay": 2}
DOWN_SECONDS = 4


def remote_version(tenant: Any, kind: str, config: dict[str, Any]):
    options: dict[str, Any] = {"retry": RETRY}
    if kind == "connector":
        # A connector calls its application install's base URL (the editor refuses one without an install).
        app, _ = Application.objects.get_or_create(key="chaos-remote", defaults={"name": "Chaos remote"})
        base_url = config.pop("url")
        options["install"] = ApplicationInstall.objects.create(
            tenant=tenant, application=app, name=f"chaos {base_url}", settings={"base_url": base_url}
        )
    return make_runtime_version(
        tenant,
        {"start": "start.manual", "call": (kind, config, options), "end": "end"},
        ["start>call", "call>end"],
    )


def test_remote_slow_flapping_down_and_garbage(tenant_a):
    stubs = {name: Stub() for name in ("slow", "flap", "down", "garbage")}
    lock = threading.Lock()
    seen: set[int] = set()
    flips: dict[int, int] = {}
    down = {"until": 0.0, "calls": 0}

    def slow(call: dict[str, Any]) -> tuple[int, Any]:
        n = call["json"]["n"]
        with lock:
            first = n not in seen
            seen.add(n)
        if first:
            time.sleep(1.5)  # past the node's 0.5 s timeout: the first call of every message times out
        return 200, {"slow": n}

    def flap(call: dict[str, Any]) -> tuple[int, Any]:
        # Half the calls fail: every message's odd calls (a global alternation could hit one message every time).
        n = call["json"]["n"]
        with lock:
            flips[n] = flips.get(n, 0) + 1
            failing = flips[n] % 2 == 1
        return (503, {"error": "flapping"}) if failing else (200, {"ok": True})

    def outage(call: dict[str, Any]) -> tuple[int, Any]:
        if time.monotonic() < down["until"]:
            down["calls"] += 1
            return 503, {"error": "down"}
        return 200, {"ok": True}

    def garbage(call: dict[str, Any]) -> tuple[int, Any]:
        body = call["json"]["body"]
        if '"n": 1' in body[:8] or body.startswith('{"n": 1'):
            return 200, b"<html>not an envelope</html>"
        return 200, {"body": body, "headers": {"result-code": "0"}}

    stubs["slow"].routes["/api"] = slow
    stubs["flap"].routes["/api"] = flap
    stubs["down"].routes["/api"] = outage
    stubs["garbage"].routes["/worker"] = garbage
    try:
        with RuntimeEnv("chaos-remote") as runtime:
            runtime.start_engine(env={"FLOWYARD_BREAKER_FAILURES": "5", "FLOWYARD_BREAKER_COOLDOWN_MS": "1000"})
            rows = []
            for name, kind, config in (
                ("slow", "connector", {"url": stubs["slow"].url, "path": "/api", "timeout": 0.5}),
                ("flap", "connector", {"url": stubs["flap"].url, "path": "/api"}),
                ("down", "connector", {"url": stubs["down"].url, "path": "/api"}),
                ("garbage", "worker", {"url": stubs["garbage"].url, "action": "/worker"}),
            ):
                scenario = Scenario(runtime, tenant_a, f"remote {name}", linear=0, parallel=0)
                scenario.add(name, remote_version(tenant_a, kind, config), COUNT)
                scenario.wait_ready()
                if name == "down":
                    down["until"] = time.monotonic() + DOWN_SECONDS
                scenario.push()
                if name == "down":
                    time.sleep(max(0.0, down["until"] - time.monotonic()))
                    scenario.healed()
                rows.append(scenario.finish())
    finally:
        for stub in stubs.values():
            stub.close()
    slow_row, flap_row, down_row, garbage_row = rows
    for row in rows:
        assert (row.lost, row.stuck) == (0, 0), row
    assert slow_row.trashed == 0 and flap_row.trashed == 0
    # Down for 4 s: without the breaker every message would call and retry (hundreds of calls); with it, the
    # five failures that open it, then one probe per second (plus calls already in flight when it opened).
    assert down["calls"] <= 5 + DOWN_SECONDS * 2 + 10, down
    assert down_row.trashed == 0, down_row
    # Bodies {"n": 1}, {"n": 10} ... {"n": 19}: eleven garbage answers go to the trash, without retries.
    assert garbage_row.trashed == 11, garbage_row
