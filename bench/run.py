"""Run Flowyard's benchmarks and print one table: `python bench/run.py [NAME ...] [--save-baseline]`.

Names: pika, celery, flowyard, flowyard-notices-off, connector, webhook, rest, rss, editor, pages, trash, limiter
(default: all, in that order). Results go to bench/results/latest.json; `--save-baseline` also rewrites
bench/baseline.json with this run's figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import djangoenv  # noqa: E402
from bench.common import RESULTS_DIR, RUN_ID, BenchResult, delete_broker_objects  # noqa: E402

BASELINE = ROOT / "bench" / "baseline.json"
LATEST = RESULTS_DIR / "latest.json"
# Targets for Flowyard against the other contenders measured in the same run: pika from issue 5, Celery raised
# from issue 5's 4 to 8 by issue 13.
CONTENDER_TARGETS = {"pika": 0.6, "celery": 8.0}


def _bench(module: str, function: str = "run") -> Callable[[], BenchResult]:
    def run() -> BenchResult:
        import importlib

        return getattr(importlib.import_module(f"bench.{module}"), function)()

    return run


BENCHMARKS: dict[str, Callable[[], BenchResult]] = {
    "pika": _bench("pika_bench"),
    "celery": _bench("celery_bench"),
    "flowyard": _bench("flowyard_bench"),
    "flowyard-notices-off": _bench("flowyard_bench", "run_notices_off"),
    "connector": _bench("connector_bench"),
    "webhook": _bench("webhook_bench", "run_webhook"),
    "rest": _bench("webhook_bench", "run_rest"),
    "rss": _bench("rss_bench"),
    "editor": _bench("editor_bench"),
    "pages": _bench("page_bench"),
    "trash": _bench("trash_bench"),
    "limiter": _bench("limiter_bench"),
}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn `kill` into an exception so every try/finally stops its child processes and deletes its queues.
    raise KeyboardInterrupt(f"signal {signum}")


def contender_ratios(results: dict[str, BenchResult]) -> None:
    """Add Flowyard/pika and Flowyard/Celery throughput ratios (same run only) to Flowyard's metrics."""
    flowyard = results.get("flowyard")
    if flowyard is None or flowyard.get("throughput") is None or flowyard.error:
        return  # a stalled run's rate is over the processes that finished: not a figure to compare
    for name, target in CONTENDER_TARGETS.items():
        other = results.get(name)
        theirs = other.get("throughput") if other else None
        if theirs:
            flowyard.add(
                f"throughput vs {name}",
                (flowyard.get("throughput") or 0) / theirs,
                "x",
                target=target,
                note=f"Flowyard/{name} processes/s, same run",
            )


def notice_cost(results: dict[str, BenchResult]) -> None:
    """Issue 11: live-monitoring notices on (the `flowyard` row) may cost at most 10 % of the throughput with
    them off (the `flowyard-notices-off` row, same run)."""
    on, off = results.get("flowyard"), results.get("flowyard-notices-off")
    if not on or not off or on.error or off.error:
        return
    mine, theirs = on.get("throughput"), off.get("throughput")
    if mine and theirs:
        on.add("throughput notices on vs off", mine / theirs, "x", target=0.9, note="same run, same topology size")


def load_baseline() -> dict[str, Any]:
    if BASELINE.exists():
        return dict(json.loads(BASELINE.read_text()))
    return {"metrics": {}}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: dict[str, BenchResult], baseline: dict[str, Any]) -> str:
    """The one table: benchmark, metric, value, unit, baseline, ratio vs baseline, target, verdict."""
    head = ["benchmark", "metric", "value", "unit", "baseline", "vs base", "target", "result"]
    rows: list[list[str]] = []
    base = baseline.get("metrics", {})
    for result in results.values():
        for m in result.metrics:
            ref = base.get(f"{m.benchmark}/{m.metric}")
            ratio = m.value / ref if (m.value is not None and ref) else None
            target = "" if m.target is None else ("≥ " if m.higher_is_better else "< ") + _fmt(m.target)
            rows.append(
                [
                    m.benchmark,
                    m.metric,
                    _fmt(m.value),
                    m.unit,
                    _fmt(ref),
                    _fmt(ratio) + "x" if ratio else "-",
                    target,
                    m.verdict,
                ]
            )
        if result.error:
            rows.append([result.name, "ERROR", result.error[:90], "", "", "", "", "FAIL"])
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i]) for i in range(len(head))]
    numeric = {2, 4, 5}

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells))
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    notes = dict.fromkeys(f"{m.benchmark}: {m.note}" for r in results.values() for m in r.metrics if m.note)
    return "\n".join([line(head), sep, *(line(r) for r in rows), *(f"  note {n}" for n in notes)])


def _cleanup_redis() -> None:
    try:
        import redis

        from bench.common import REDIS_URL

        store = redis.Redis.from_url(REDIS_URL)
        keys = list(store.scan_iter(match=f"*{RUN_ID}*", count=1000))
        if keys:
            store.delete(*keys)
    except Exception as exc:
        print(f"  warning: Redis clean-up failed: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--save-baseline", action="store_true", help="rewrite bench/baseline.json with this run")
    parser.add_argument(
        "--promote-latest", action="store_true", help="run nothing: make bench/results/latest.json the baseline"
    )
    args = parser.parse_args(argv)
    if args.promote_latest:
        return promote_latest()
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    # The user's settings, before the benchmarks add their own BENCH_* variables for their children.
    bench_env = {k: v for k, v in os.environ.items() if k.startswith("BENCH_")}
    signal.signal(signal.SIGTERM, _on_sigterm)
    djangoenv.configure()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    messages = os.environ.get("BENCH_MESSAGES", "20000")
    print(f"Flowyard benchmarks, run {RUN_ID}: {', '.join(names)} (BENCH_MESSAGES={messages})", file=sys.stderr)
    results: dict[str, BenchResult] = {}
    started = time.monotonic()
    try:
        for name in names:
            t0 = time.monotonic()
            print(f"- {name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = BENCHMARKS[name]()
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                traceback.print_exc()
                results[name] = BenchResult(name, error=f"{type(exc).__name__}: {exc}")
            print(f"  {name} took {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
    finally:
        try:
            gone = delete_broker_objects(marker=RUN_ID)
            if gone:
                print(f"  cleaned up {gone} leftover queue(s)/exchange(s) of run {RUN_ID}", file=sys.stderr)
        except Exception as exc:
            print(f"  warning: broker clean-up failed: {exc}", file=sys.stderr)
        _cleanup_redis()
    contender_ratios(results)
    notice_cost(results)
    for result in results.values():
        if result.error:
            for metric in result.metrics:
                metric.note = (
                    metric.note or "partial: the benchmark failed (see its ERROR row); figures cover what finished"
                )
    baseline = load_baseline()
    print()
    print(table(results, baseline))
    print()
    print(f"total {time.monotonic() - started:.0f}s; baseline from {baseline.get('created', 'nowhere yet')}")
    document = {
        "run_id": RUN_ID,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "env": bench_env,
        "database": "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else "sqlite",
        "results": {name: result.to_json() for name, result in results.items()},
    }
    LATEST.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {LATEST.relative_to(ROOT)}")
    if args.save_baseline:
        save_baseline(results, baseline, document)
        print(f"baseline saved: {BASELINE.relative_to(ROOT)}")
    return 1 if any(r.error for r in results.values()) else 0


def promote_latest() -> int:
    """Turn the last run's results file into the baseline (for a run made without --save-baseline)."""
    document = json.loads(LATEST.read_text())
    results: dict[str, BenchResult] = {}
    for name, data in document["results"].items():
        result = BenchResult(name, error=data.get("error", ""))
        for m in data["metrics"]:
            result.add(m["metric"], m["value"], m["unit"])
        results[name] = result
    save_baseline(results, load_baseline(), document)
    print(f"baseline saved from {LATEST.relative_to(ROOT)} ({document['created']})")
    return 0


def save_baseline(results: dict[str, BenchResult], baseline: dict[str, Any], document: dict[str, Any]) -> None:
    """Merge this run's figures into the baseline (benchmarks not run keep their previous figures)."""
    metrics: dict[str, float] = dict(baseline.get("metrics", {}))
    for result in results.values():
        if result.error:
            continue
        for m in result.metrics:
            if m.value is not None:
                metrics[f"{m.benchmark}/{m.metric}"] = round(m.value, 3)
    BASELINE.write_text(
        json.dumps(
            {
                "created": document["created"],
                "machine": document["machine"],
                "database": document["database"],
                "env": document["env"],
                "metrics": dict(sorted(metrics.items())),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
