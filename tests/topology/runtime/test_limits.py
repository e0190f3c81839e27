"""The limiter end to end: four engine processes, real RabbitMQ and Redis, a stub remote that records call times."""

from __future__ import annotations

import time

import pytest

from admin_ui.models import Application, ApplicationInstall
from limiter.models import Limit
from processes.models import Process
from processes.services import process_start, process_start_many
from tests.topology.runtime.harness import wait_process
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime.ratelimit import audit_log, group_key, install_key, pauses
from topology.runtime.spec import build_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENGINES = 4


def max_in_window(times: list[float], seconds: float = 1.0) -> int:
    """The most calls that fall in any window [t, t + seconds)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def limited_flow(runtime, stub, tenant, path, *, amount=None, group=None, app_key="shop"):
    app, _ = Application.objects.get_or_create(key=app_key, defaults={"name": "Shop"})
    install = ApplicationInstall.objects.create(
        tenant=tenant, application=app, name=f"shop-{path}", settings={"base_url": stub.url}
    )
    if amount is not None:
        Limit.objects.get_or_create(
            tenant=tenant,
            application=app,
            defaults={"key": install_key(tenant.pk, app.key), "amount": amount, "seconds": 1},
        )
    if group is not None:
        Limit.objects.get_or_create(
            tenant=None, application=app, defaults={"key": group_key(app.key), "amount": group, "seconds": 1}
        )
    # Enabling the version tells every engine to reload, which also loads the limits created above.
    version = make_runtime_version(
        tenant,
        {
            "start": "start.manual",
            "call": ("connector", {"method": "POST", "path": path}, {"install": install, "prefetch": 20}),
            "end": "end",
        },
        ["start>call", "call>end"],
    )
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), minimum=ENGINES, timeout=90)
    time.sleep(0.5)  # the reload that loads the limits runs after the consumers exist
    return version


def wait_all(version, count, timeout):
    deadline = time.monotonic() + timeout
    while Process.objects.filter(version=version).exclude(status=Process.Status.IN_PROGRESS).count() < count:
        assert time.monotonic() < deadline, "processes still running"
        time.sleep(0.2)
    return Process.objects.filter(version=version)


def test_four_engines_keep_one_key_to_ten_per_second(tenant_a, runtime, stub):
    stub.routes["/ten"] = lambda call: (200, {"ok": True})
    version = limited_flow(runtime, stub, tenant_a, "/ten", amount=10)
    process_start_many(version=version, bodies=[{"n": i} for i in range(200)])
    processes = wait_all(version, 200, timeout=90)
    arrivals = [c["at"] for c in stub.calls if c["path"] == "/ten"]
    assert len(arrivals) == 200, runtime.log_tail()
    assert not processes.exclude(status=Process.Status.SUCCESS).exists()
    # The limiter's own admission times (Redis clock) carry the guarantee. Arrival times at the stub add the
    # scheduling jitter of a loaded machine (a stalled test process records a second's calls at once), which
    # no limiter can take back, so they are only counted; bench/limiter_bench.py reports them.
    admitted = audit_log(install_key(tenant_a.pk, "shop"))
    assert len(admitted) == 200
    assert max_in_window(admitted) == 10
    # Ideal: 200 calls at 10 per second take 20 s (the last window included); issue 12 allows 10 % more. Every call
    # of a burst waits for its counterpart of the previous burst to leave the window, so a late wake-up delays all
    # the bursts after it: holds end at the moment the limiter named and tier trips come back early
    # (topology/runtime/limits.py). Measured 20.3-20.9 s over nine runs with the machine running other suites
    # (load 12-17 on 2 cores); before those two changes 21.1-22.6 s over four.
    total = max(admitted) - min(admitted) + 1.0
    assert 18.0 <= total <= 22.0, total


def test_group_limit_caps_two_tenants_that_each_have_their_own(tenant_a, tenant_b, runtime, stub):
    stub.routes["/group"] = lambda call: (200, {"tenant": call["json"]["tenant"]})
    a = limited_flow(runtime, stub, tenant_a, "/group", amount=10, group=12, app_key="shared")
    b = limited_flow(runtime, stub, tenant_b, "/group", amount=10, group=12, app_key="shared")
    process_start_many(version=a, bodies=[{"tenant": "a", "n": i} for i in range(40)])
    process_start_many(version=b, bodies=[{"tenant": "b", "n": i} for i in range(40)])
    wait_all(a, 40, timeout=40)
    wait_all(b, 40, timeout=40)
    assert len([c for c in stub.calls if c["path"] == "/group"]) == 80
    group = audit_log(group_key("shared"))
    assert len(group) == 80 and max_in_window(group) == 12
    for tenant in (tenant_a, tenant_b):
        assert max_in_window(audit_log(install_key(tenant.pk, "shared"))) <= 10
    # 80 calls at 12 per second take more than 6 s: the group limit, not the tenant ones, was binding.
    assert max(group) - min(group) >= 5.5


def test_429_with_retry_after_pauses_the_key_for_every_message(tenant_a, runtime, stub):
    def answer(call):
        if not any(c["path"] == "/busy" and c.get("refused") for c in stub.calls):
            call["refused"] = True
            return 429, {"error": "slow down"}, {"Retry-After": "2"}
        return 200, {"ok": True}

    stub.routes["/busy"] = answer
    version = limited_flow(runtime, stub, tenant_a, "/busy", amount=100)
    first = process_start(version=version, body={"n": 0})
    deadline = time.monotonic() + 10
    while not any(c["path"] == "/busy" for c in stub.calls):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    others = [process_start(version=version, body={"n": i}) for i in range(1, 4)]
    for process in [first, *others]:
        assert wait_process(process.correlation_id, timeout=20, env=runtime).status == Process.Status.SUCCESS
    calls = sorted(c["at"] for c in stub.calls if c["path"] == "/busy")
    assert len(calls) == 5  # the refused call, then each of the four once
    assert calls[1] - calls[0] >= 1.95, calls  # nothing on that key until Retry-After has passed


def test_429_on_a_key_without_a_limit_pauses_every_engine_without_redis_on_the_way(tenant_a, runtime, stub):
    def answer(call):
        if not any(c["path"] == "/free" and c.get("refused") for c in stub.calls):
            call["refused"] = True
            return 429, {"error": "slow down"}, {"Retry-After": "2"}
        return 200, {"ok": True}

    stub.routes["/free"] = answer
    version = limited_flow(runtime, stub, tenant_a, "/free", app_key="free")  # no limit: pauses only
    first = process_start(version=version, body={"n": 0})
    key = install_key(tenant_a.pk, "free")
    deadline = time.monotonic() + 10
    while key not in pauses():  # the engine that got the 429 recorded the pause and told the others
        assert time.monotonic() < deadline, runtime.log_tail()
        time.sleep(0.02)
    # The notice went out (confirmed) before the record; its hop from the control exchange to each engine's
    # connection thread took over 0.1 s once on a loaded machine (an engine called the key 0.375 s after the 429).
    time.sleep(0.3)
    others = process_start_many(version=version, bodies=[{"n": i} for i in range(1, 9)])
    for process in [first, *others]:
        assert wait_process(process.correlation_id, timeout=20, env=runtime).status == Process.Status.SUCCESS
    calls = sorted(c["at"] for c in stub.calls if c["path"] == "/free")
    assert len(calls) == 10  # the refused call, then each of the nine once
    # Eight messages spread over four engines, and none called before the Retry-After had passed.
    assert calls[1] - calls[0] >= 1.95, calls


def test_an_ordered_node_waits_in_place_and_keeps_its_order(tenant_a, runtime, stub):
    stub.routes["/ordered"] = lambda call: (200, call["json"])
    app, _ = Application.objects.get_or_create(key="ordered-shop", defaults={"name": "Ordered shop"})
    install = ApplicationInstall.objects.create(
        tenant=tenant_a, application=app, name="ordered", settings={"base_url": stub.url}
    )
    key = install_key(tenant_a.pk, app.key)
    Limit.objects.create(tenant=tenant_a, application=app, key=key, amount=2, seconds=1)
    version = make_runtime_version(
        tenant_a,
        {
            "start": ("start.manual", {}, {"ordered": True}),
            "call": ("connector", {"path": "/ordered"}, {"install": install, "ordered": True}),
            "end": "end",
        },
        ["start>call", "call>end"],
    )
    for node in build_version(version).nodes.values():
        runtime.wait_consumers(node.queues(), minimum=1, timeout=90)
    time.sleep(0.5)
    process_start_many(version=version, bodies=[{"n": i} for i in range(6)])
    wait_all(version, 6, timeout=60)
    calls = [c for c in stub.calls if c["path"] == "/ordered"]
    # Over the limit the message holds its place (no trip through the delay queues), so the order holds.
    assert [c["json"]["n"] for c in calls] == list(range(6))
    admitted = audit_log(key)
    assert len(admitted) == 6 and max_in_window(admitted) == 2
