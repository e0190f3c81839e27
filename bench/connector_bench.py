"""Connector throughput (issue 5): a connector node (prefetch 20) calling a local stub that answers after 50 ms,
one engine; the ideal is 20 / 0.05 s = 400 messages/s, the target 80 % of it."""

from __future__ import annotations

import threading
import time

from bench import djangoenv
from bench import flowyard_support as fy
from bench.common import BenchResult, StubServer, children, cpu_seconds, env_float, env_int

TARGET = 320.0
PREFETCH = 20
DELAY = 0.05


class TimedStub(StubServer):
    """The stub, also remembering when each call arrived and when it was answered."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.first_at = 0.0
        self.last_at = 0.0
        self.busy_seconds = 0.0  # summed request durations: divided by the window, the mean concurrency
        self._times_lock = threading.Lock()
        handler = self.server.RequestHandlerClass
        answer = handler._answer  # type: ignore[attr-defined]
        stub = self

        def timed(self_: object) -> None:
            began = time.time()
            with stub._times_lock:
                if not stub.first_at:
                    stub.first_at = began
            answer(self_)
            with stub._times_lock:
                stub.last_at = time.time()
                stub.busy_seconds += stub.last_at - began

        handler.do_POST = timed  # type: ignore[attr-defined]


def _install(tenant: object, user: object, base_url: str) -> int:
    from admin_ui.applications import application_sync
    from admin_ui.models import Application
    from admin_ui.services import install_create

    application_sync()
    application = Application.objects.get(key="http-api")
    install = install_create(
        tenant=tenant,  # type: ignore[arg-type]
        application=application,
        name=f"Bench stub {int(time.time() * 1000)}",
        values={"base_url": base_url, "auth_type": "none"},
        actor=user,
    )
    return int(install.pk)


def run() -> BenchResult:
    """Messages/s through the connector node, measured at the stub (first call to last answer)."""
    result = BenchResult("connector")
    count = env_int("BENCH_CONNECTOR_MESSAGES", 4000)
    timeout = env_float("BENCH_CONNECTOR_TIMEOUT", 180)
    bench = None
    djangoenv.setup()
    try:
        with TimedStub(DELAY) as stub, children() as procs:
            tenant, user = djangoenv.bench_owner()
            install = _install(tenant, user, stub.url)
            bench = fy.chain_topology(
                "Bench connector",
                [
                    {
                        "id": "Call_stub",
                        "kind": "connector",
                        "name": "Call stub",
                        "install": install,
                        "method": "POST",
                        "path": "/orders",
                        "prefetch": PREFETCH,
                    }
                ],
            )
            engine = fy.start_engine(procs, bench, log_name="connector-engine")
            warm = fy.start_processes(bench, PREFETCH * 2)
            fy.wait_finished(warm, timeout=60)
            stub.first_at = stub.last_at = stub.busy_seconds = 0.0
            hits_before = stub.hits
            spy = fy.start_profiler(procs, engine.pid, "connector", count / 100)
            cpu0 = cpu_seconds(engine.pid) or 0.0
            ids = fy.start_processes(bench, count, offset=len(warm))
            finished = fy.wait_finished(ids, timeout=timeout)
            cpu1 = cpu_seconds(engine.pid) or 0.0
            fy.finish_profiler(spy)
            calls = stub.hits - hits_before
            window = stub.last_at - stub.first_at
            result.add("throughput", calls / window if window > 0 else None, "messages/s", target=TARGET)
            seconds, _latencies, got = fy.process_figures(ids)
            result.add("processes/s end to end", got / seconds if seconds else None, "processes/s")
            result.details.update(
                {
                    "count": count,
                    "stub_calls": calls,
                    "stub_window_s": round(window, 3),
                    # How many of the PREFETCH slots were, on average, inside an HTTP call.
                    "stub_mean_concurrency": round(stub.busy_seconds / window, 2) if window > 0 else None,
                    "prefetch": PREFETCH,
                    "stub_delay_ms": DELAY * 1000,
                    "ideal_per_s": PREFETCH / DELAY,
                    "success": finished.success,
                    # The engine's CPU per call (its recorder thread included): on a shared machine the calls/s
                    # depend on the CPU the engine gets, this does not.
                    "engine_cpu_ms_per_call": round(1000 * (cpu1 - cpu0) / count, 3),
                }
            )
            if finished.done < count:
                result.error = f"{'stalled' if finished.stalled else 'timed out'}: {finished.done}/{count} finished"
            elif finished.success < count:
                result.error = f"{count - finished.success} of {count} processes did not end in success"
    finally:
        fy.disable_and_clean(bench)
    return result
