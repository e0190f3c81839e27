"""Front door (issue 13): processes started over HTTP, the way n8n is measured.

`webhook`: BENCH_WEBHOOK_REQUESTS (5,000) POSTs of a ~1 KB JSON document at concurrency BENCH_WEBHOOK_CONCURRENCY
(50) from an aiohttp client to `/hooks/<token>` of a published, enabled `start.webhook -> 5 x flowyard.noop -> end`
topology. `rest`: the same load on `POST /api/topologies/<name>/start` with an API token. The web server is the
Procfile's (`uvicorn --workers BENCH_WEB_WORKERS`, 2), with one engine and one recorder process. Figures: accepted
requests/s (202s over the HTTP phase), completed processes/s (first start to last finish), HTTP p50/p99, and the CPU
each process of the machine spent per completed process (web, engine, recorder, RabbitMQ, PostgreSQL, and the whole
machine, which on a shared machine includes other people's work).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import flowyard_support as fy
from bench.common import (
    PYTHON,
    BenchResult,
    children,
    cpu_seconds,
    env_int,
    free_port,
    machine_busy,
    payload,
    percentile,
    tree_pids,
    wait_port,
)

WARMUP = 200
TARGET_COMPLETED_PER_S = 450.0  # 5 x n8n's 80-89 executions/s on the same load and machine
TARGET_CPU_MS = 8.0


def _pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (RabbitMQ's beam.smp, PostgreSQL's postgres)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == name:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


async def _load(url: str, headers: dict[str, str], count: int, concurrency: int, offset: int) -> dict[str, Any]:
    import aiohttp

    bodies = [payload(i) for i in range(min(count, 1000))]
    latencies: list[float] = []
    correlation_ids: list[str] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            async with session.post(url, data=bodies[(offset + i) % len(bodies)], headers=headers) as response:
                text = await response.text()
            data = json.loads(text) if response.status == 202 else None
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if data is not None:
                correlation_ids.append(str(data["correlation_id"]))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
    return {"latencies": latencies, "ids": correlation_ids, "statuses": statuses, "seconds": seconds}


def _wait_rows(ids: list[str], *, timeout: float, stall: float = 60.0) -> int:
    """Poll until every process of `ids` has a finished row; returns how many did."""
    from processes.models import Process

    deadline, last, last_change = time.monotonic() + timeout, -1, time.monotonic()
    done = 0
    while time.monotonic() < deadline and time.monotonic() - last_change < stall:
        done = sum(
            Process.objects.filter(correlation_id__in=ids[i : i + 900], finished_at__isnull=False).count()
            for i in range(0, len(ids), 900)
        )
        if done >= len(ids):
            break
        if done != last:
            last, last_change = done, time.monotonic()
        time.sleep(0.5)
    return done


def _figures(ids: list[str]) -> tuple[float, int, int]:
    """(seconds from the first start to the last finish, finished, successful) of the processes `ids`."""
    from processes.models import Process

    rows: list[tuple[Any, Any, str]] = []
    for i in range(0, len(ids), 900):
        rows += list(
            Process.objects.filter(correlation_id__in=ids[i : i + 900], finished_at__isnull=False).values_list(
                "started_at", "finished_at", "status"
            )
        )
    if not rows:
        return 0.0, 0, 0
    seconds = (max(r[1] for r in rows) - min(r[0] for r in rows)).total_seconds()
    return seconds, len(rows), sum(1 for r in rows if r[2] == Process.Status.SUCCESS)


def _target(bench: fy.Bench, mode: str) -> tuple[str, dict[str, str]]:
    """The path and headers of a start request."""
    headers = {"Content-Type": "application/json"}
    if mode == "rest":
        from admin_ui.services import api_token_create

        key = api_token_create(tenant=bench.tenant, name="bench", scopes=["start"], actor=bench.user).key
        headers["Authorization"] = f"Bearer {key}"
        return f"/api/topologies/{bench.topology.name}/start", headers
    from topology.webhooks import webhook_urls

    url = webhook_urls(topology=bench.topology)["Start"]
    return "/hooks/" + url.rsplit("/hooks/", 1)[1], headers


def run(mode: str = "webhook") -> BenchResult:
    """Start processes over HTTP at concurrency 50 and follow them to their end."""
    result = BenchResult(mode)
    count = env_int("BENCH_WEBHOOK_REQUESTS", 5000)
    concurrency = env_int("BENCH_WEBHOOK_CONCURRENCY", 50)
    workers = env_int("BENCH_WEB_WORKERS", 2)
    timeout = float(os.environ.get("BENCH_WEBHOOK_TIMEOUT", "300"))
    middle = [
        {"id": f"Noop_{i}", "kind": "python", "name": f"No-op {i}", "registry": "flowyard.noop", "prefetch": 100}
        for i in range(1, 6)
    ]
    start_kind = "start.webhook" if mode == "webhook" else "start.manual"
    bench = None
    try:
        bench = fy.chain_topology(f"Bench {mode} x5", middle, start_kind=start_kind)
        path, headers = _target(bench, mode)
        port = free_port()
        with children() as procs:
            recorder = procs.start([PYTHON, "manage.py", "engine", "--recorder-only"], log_name=f"{mode}-recorder")
            engine = fy.start_engine(procs, bench, log_name=f"{mode}-engine", args=["--no-recorder"])
            server = ["uvicorn", "admin_ui.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
            options = ["--workers", str(workers), "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
            # The API token's throttle (600/min by default) still counts every request, but must not refuse the load.
            rate = {"FLOWYARD_API_TOKEN_RATE": os.environ.get("BENCH_API_TOKEN_RATE", "1000000/min")}
            web = procs.start([PYTHON, "-m", *server, *options], env=rate, log_name=f"{mode}-web")
            wait_port(port, web)
            url = f"http://127.0.0.1:{port}{path}"
            warm = asyncio.run(_load(url, headers, WARMUP, concurrency, 0))
            if _wait_rows(warm["ids"], timeout=60) < WARMUP:
                raise RuntimeError(f"the warm-up did not finish: {warm['statuses']}; see bench/results/{mode}-*.log")
            groups: dict[str, Callable[[], list[int]]] = {
                "web": lambda: tree_pids(web.pid),
                "engine": lambda: [engine.pid],
                "recorder": lambda: [recorder.pid],
                "RabbitMQ": lambda: _pids_named("beam.smp"),
                "PostgreSQL": lambda: _pids_named("postgres"),
            }
            pids = {name: get() for name, get in groups.items()}
            spy = fy.start_profiler(procs, pids["web"][-1], mode, 20)
            cpu0 = {name: _cpu(p) for name, p in pids.items()}
            busy0 = machine_busy()
            load = asyncio.run(_load(url, headers, count, concurrency, WARMUP))
            finished = _wait_rows(load["ids"], timeout=timeout)
            busy1 = machine_busy()
            # PostgreSQL forks a backend per connection: count the ones that appeared too.
            pids["PostgreSQL"] = sorted(set(pids["PostgreSQL"]) | set(_pids_named("postgres")))
            cpu1 = {name: _cpu(p) for name, p in pids.items()}
            fy.finish_profiler(spy)
        seconds, got, success = _figures(load["ids"])
        accepted = len(load["ids"])
        result.add("accepted", accepted / load["seconds"] if load["seconds"] else None, "req/s")
        result.add(
            "completed",
            got / seconds if seconds else None,
            "processes/s",
            target=TARGET_COMPLETED_PER_S,
            note="5× n8n queue mode on the same load",
        )
        result.add("HTTP p50", percentile(load["latencies"], 50), "ms", higher_is_better=False)
        result.add("HTTP p99", percentile(load["latencies"], 99), "ms", higher_is_better=False)
        per_process = {name: (cpu1[name] - cpu0[name]) * 1000 / max(1, got) for name in pids}
        for name, ms in per_process.items():
            result.add(f"CPU {name}", ms, "ms/process", higher_is_better=False)
        result.add(
            "CPU Flowyard + services",
            sum(per_process.values()),
            "ms/process",
            higher_is_better=False,
            target=TARGET_CPU_MS,
            note="web + engine + recorder + RabbitMQ + PostgreSQL",
        )
        clock = os.sysconf("SC_CLK_TCK")
        result.details.update(
            {
                "requests": count,
                "concurrency": concurrency,
                "web_workers": workers,
                "statuses": load["statuses"],
                "http_seconds": round(load["seconds"], 2),
                "finished": got,
                "success": success,
                "machine_cpu_ms_per_process": round((busy1[0] - busy0[0]) / clock * 1000 / max(1, got), 2),
                "database": os.environ.get("DATABASE_URL", "").split(":", 1)[0],
            }
        )
        if accepted < count:
            result.error = f"{count - accepted} of {count} requests were not accepted: {load['statuses']}"
        elif finished < accepted:
            result.error = f"only {finished} of {accepted} accepted processes finished"
        elif success < got:
            result.error = f"{got - success} of {got} processes did not end in success"
    finally:
        fy.disable_and_clean(bench)
    return result


def run_webhook() -> BenchResult:
    return run("webhook")


def run_rest() -> BenchResult:
    return run("rest")
