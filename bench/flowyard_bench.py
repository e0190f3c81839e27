"""Flowyard throughput (issue 5): BENCH_MESSAGES processes through a published, enabled topology of 5 Python
`flowyard.noop` nodes (between its start and end events), one engine and its recorder in a process of its own."""

from __future__ import annotations

import os
import time

from bench import flowyard_support as fy
from bench.common import BenchResult, add_throughput, children, cpu_seconds, env_float, env_int, machine_busy

WARMUP = 200


def run() -> BenchResult:
    """Processes/s from the first start to the last finish; p50/p99 of finished_at - started_at."""
    return _run("flowyard", notices=True)


def run_notices_off() -> BenchResult:
    """The same run with the recorder's live-monitoring notices off (FLOWYARD_LIVE_NOTICES=0): issue 11 wants
    `flowyard` (notices on, the default) within 10 % of this figure."""
    return _run("flowyard-notices-off", notices=False)


def _run(name: str, *, notices: bool) -> BenchResult:
    result = BenchResult(name)
    # The children (recorder, engine) read it; the queue-depth sampler runs either way, as in production.
    child_env = {"FLOWYARD_LIVE_NOTICES": "1" if notices else "0"}
    count = env_int("BENCH_MESSAGES", 20_000)
    stages = env_int("BENCH_FLOWYARD_NODES", 5)
    prefetch = env_int("BENCH_FLOWYARD_PREFETCH", 100)
    timeout = env_float("BENCH_FLOWYARD_TIMEOUT", 420)
    middle = [
        {"id": f"Noop_{i}", "kind": "python", "name": f"No-op {i}", "registry": "flowyard.noop", "prefetch": prefetch}
        for i in range(1, stages + 1)
    ]
    bench = None
    try:
        bench = fy.chain_topology(f"Bench noop x{stages}{'' if notices else ' quiet'}", middle)
        with children() as procs:
            # The recorder runs in its own process (`engine --recorder-only`) as in the Procfile; they would share
            # one GIL otherwise. BENCH_FLOWYARD_SPLIT_RECORDER=0 runs it as a thread of the engine.
            split = os.environ.get("BENCH_FLOWYARD_SPLIT_RECORDER", "1") != "0"
            recorder = None
            if split:
                recorder = procs.start(
                    [fy.PYTHON, "manage.py", "engine", "--recorder-only"], log_name=f"{name}-recorder", env=child_env
                )
            engine = fy.start_engine(
                procs, bench, log_name=f"{name}-engine", args=["--no-recorder"] if split else [], env=child_env
            )
            warm = fy.start_processes(bench, WARMUP)
            if fy.wait_finished(warm, timeout=60).done < WARMUP:
                raise RuntimeError(
                    f"the warm-up processes did not finish within 60 s; see bench/results/{name}-engine.log"
                )
            spy = fy.start_profiler(procs, engine.pid, name, min(60, count / 150))
            t0 = time.monotonic()
            cpu0, busy0 = cpu_seconds(engine.pid) or 0.0, machine_busy()
            rec0 = cpu_seconds(recorder.pid) or 0.0 if recorder else 0.0
            ids = fy.start_processes(bench, count, offset=WARMUP)
            start_seconds = time.monotonic() - t0
            finished = fy.wait_finished(ids, timeout=timeout)
            wall = time.monotonic() - t0
            cpu1, busy1 = cpu_seconds(engine.pid) or 0.0, machine_busy()
            rec1 = cpu_seconds(recorder.pid) or 0.0 if recorder else 0.0
            fy.finish_profiler(spy)
            seconds, latencies, got = fy.process_figures(ids)
            add_throughput(result, count=got, seconds=seconds, latencies_ms=latencies, unit="processes/s")
            result.details.update(
                {
                    "python_nodes": stages,
                    "queues_per_process": stages + 2,
                    "prefetch": prefetch,
                    "success": finished.success,
                    "start_rate_per_s": round(count / start_seconds, 1) if start_seconds else None,
                    "engine_pid": engine.pid,
                    "recorder": "own process" if split else "engine thread",
                    "live_notices": notices,
                    # CPU seconds per wall second: 1.0 is one core saturated (the GIL's limit for one process).
                    "engine_cpu_cores": round((cpu1 - cpu0) / wall, 2),
                    "recorder_cpu_cores": round((rec1 - rec0) / wall, 2) if recorder else None,
                    "machine_cpu_busy": round((busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]), 2),
                    # CPU per process does not depend on how much of a shared machine the run got: the fair way
                    # to compare notices on and off when machine_cpu_busy is near 1.
                    "engine_cpu_ms_per_process": round(1000 * (cpu1 - cpu0) / count, 3),
                    "recorder_cpu_ms_per_process": round(1000 * (rec1 - rec0) / count, 3) if recorder else None,
                }
            )
            if finished.done < count:
                why = "stalled" if finished.stalled else "timed out"
                result.error = f"{why}: {finished.done}/{count} processes finished"
            elif finished.success < count:
                result.error = f"{count - finished.success} of {count} processes did not end in success"
    finally:
        fy.disable_and_clean(bench)
    return result
