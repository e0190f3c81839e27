"""Engine memory (issue 5): RSS growth of one engine process (recorder included) over BENCH_RSS_MESSAGES node
messages (default 100,000) through start → Python no-op → end, after a warm-up; read from /proc, no psutil."""

from __future__ import annotations

import math
import os
import time

from bench import flowyard_support as fy
from bench.common import BenchResult, children, env_float, env_int, rss_kb

TARGET_MB = 20.0
HOPS = 3  # start, no-op, end: each process is three messages consumed by the engine


def run() -> BenchResult:
    """RSS after warm-up vs after the last message (and the peak in between), in MB."""
    result = BenchResult("rss")
    messages = env_int("BENCH_RSS_MESSAGES", 100_000)
    warm_messages = env_int("BENCH_RSS_WARMUP_MESSAGES", max(3_000, messages // 10))
    timeout = env_float("BENCH_RSS_TIMEOUT", 420)
    processes = math.ceil(messages / HOPS)
    warm_processes = math.ceil(warm_messages / HOPS)
    bench = None
    try:
        bench = fy.chain_topology(
            "Bench rss",
            [{"id": "Noop", "kind": "python", "name": "No-op", "registry": "flowyard.noop", "prefetch": 100}],
        )
        with children() as procs:
            # The recorder runs in its own process as in the Procfile (BENCH_FLOWYARD_SPLIT_RECORDER=0: a thread of
            # the engine), so the figure is the engine's own memory.
            split = os.environ.get("BENCH_FLOWYARD_SPLIT_RECORDER", "1") != "0"
            recorder = None
            if split:
                recorder = procs.start([fy.PYTHON, "manage.py", "engine", "--recorder-only"], log_name="rss-recorder")
            engine = fy.start_engine(procs, bench, log_name="rss-engine", args=["--no-recorder"] if split else [])
            warm = fy.start_processes(bench, warm_processes)
            if fy.wait_finished(warm, timeout=120).done < warm_processes:
                raise RuntimeError("the warm-up did not finish within 120 s; see bench/results/rss-engine.log")
            time.sleep(2)  # let the recorder's last batch and the pools settle before the first reading
            before = rss_kb(engine.pid)
            recorder_before = rss_kb(recorder.pid) if recorder else None
            samples: list[int] = []

            def sample() -> None:
                value = rss_kb(engine.pid)
                if value:
                    samples.append(value)

            t0 = time.monotonic()
            ids: list[int] = []
            for first in range(0, processes, 2_000):  # start in slices so RSS is sampled during the run too
                ids.extend(fy.start_processes(bench, min(2_000, processes - first), offset=first))
                sample()
            finished = fy.wait_finished(ids, timeout=timeout, on_poll=sample)
            elapsed = time.monotonic() - t0
            time.sleep(2)
            after = rss_kb(engine.pid)
            recorder_after = rss_kb(recorder.pid) if recorder else None
            if before is None or after is None:
                raise RuntimeError("the engine process is gone: cannot read its RSS")
            result.add("rss growth", (after - before) / 1024, "MB", target=TARGET_MB, higher_is_better=False)
            result.add("rss after warm-up", before / 1024, "MB", higher_is_better=False)
            result.add("rss at end", after / 1024, "MB", higher_is_better=False)
            result.details.update(
                {
                    "messages": finished.done * HOPS,
                    "processes": processes,
                    "warmup_messages": warm_processes * HOPS,
                    "peak_rss_mb": round(max(samples, default=after) / 1024, 1),
                    "recorder": "own process" if split else "engine thread",
                    "recorder_rss_mb": [round(v / 1024, 1) for v in (recorder_before, recorder_after) if v]
                    if recorder
                    else None,
                    "seconds": round(elapsed, 1),
                    "messages_per_s": round(finished.done * HOPS / elapsed, 1) if elapsed else None,
                }
            )
            if finished.done < processes:
                result.error = f"{'stalled' if finished.stalled else 'timed out'}: {finished.done}/{processes} finished"
    finally:
        fy.disable_and_clean(bench)
    return result
