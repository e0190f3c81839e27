"""Driving a real Flowyard for the benchmarks: build, publish and enable a topology through the topology services,
run `manage.py engine` as a child process, start processes the way the start service does, wait for the
recorder to finish them, and read the figures back from the Process rows."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import djangoenv
from bench.common import PYTHON, RUN_ID, Children, consumer_count, delete_broker_objects, payload

ENGINE_READY_TIMEOUT = 60.0
START_CHUNK = 500


@dataclass
class Bench:
    """A published and enabled benchmark topology."""

    tenant: Any
    user: Any
    topology: Any
    version: Any
    node_keys: list[str]

    def queue(self, node_key: str) -> str:
        from topology.runtime import names

        return names.node_queue(topology_id=self.topology.pk, version=self.version.number, node_key=node_key)


def chain_topology(
    name: str, middle: list[dict[str, Any]], *, prefetch: int = 100, start_kind: str = "start.manual"
) -> Bench:
    """start (manual by default) → `middle` nodes in a row → end; published and enabled through the topology
    services.

    The start and end events get `prefetch` too: with the default (10) they, not the nodes under test, cap the
    rate, because every input stays unacked until its event batch and outputs are confirmed."""
    djangoenv.setup()
    from topology import services
    from topology.bpmn.build import build_bpmn
    from topology.models import TopologyVersion

    tenant, user = djangoenv.bench_owner()
    nodes = [
        {"id": "Start", "kind": start_kind, "name": "Start", "prefetch": prefetch},
        *middle,
        {"id": "End", "kind": "end", "name": "End", "prefetch": prefetch},
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    xml = build_bpmn(nodes, edges, process_id=f"Process_{name.replace(' ', '_')}", process_name=name)
    topology = services.topology_create(tenant=tenant, name=name, actor=user, bpmn_xml=xml)
    draft = TopologyVersion.objects.filter(topology=topology).order_by("number").first()
    assert draft is not None
    if draft.errors:
        raise RuntimeError(f"benchmark topology {name!r} does not validate: {draft.errors}")
    version = services.topology_version_publish(version=draft, actor=user)
    version = services.topology_version_enable(version=version, actor=user)
    return Bench(tenant=tenant, user=user, topology=topology, version=version, node_keys=[n["id"] for n in nodes])


def start_engine(
    procs: Children, bench: Bench, *, log_name: str, args: Iterable[str] = (), env: dict[str, str] | None = None
) -> Any:
    """Run `manage.py engine` and wait until it consumes every node queue of the benchmark topology."""
    engine = procs.start([PYTHON, "manage.py", "engine", *args], log_name=log_name, env=env)
    deadline = time.monotonic() + ENGINE_READY_TIMEOUT
    queues = [bench.queue(key) for key in bench.node_keys]
    while time.monotonic() < deadline:
        if engine.poll() is not None:
            raise RuntimeError(f"the engine exited with {engine.returncode}; see bench/results/{log_name}.log")
        if all(consumer_count(q) > 0 for q in queues):
            return engine
        time.sleep(0.3)
    raise RuntimeError(f"the engine did not consume {queues} within {ENGINE_READY_TIMEOUT:.0f}s")


def start_processes(bench: Bench, count: int, *, offset: int = 0, chunk: int = START_CHUNK) -> list[int]:
    """Start `count` processes through `processes.services.process_start_many` (bulk insert, then the messages
    published with pipelined confirms), in chunks so that each Process's `started_at` is close to its publish."""
    from processes.services import process_start_many

    ids: list[int] = []
    bodies = [payload(i).decode() for i in range(min(count, 1000))]
    for first in range(0, count, chunk):
        size = min(chunk, count - first)
        batch = [bodies[(offset + first + i) % len(bodies)] for i in range(size)]
        ids.extend(p.pk for p in process_start_many(version=bench.version, bodies=batch, actor=bench.user))
    return ids


@dataclass
class Finished:
    """The outcome of waiting for a set of processes."""

    done: int
    success: int
    stalled: bool
    timed_out: bool


def wait_finished(
    ids: list[int], *, timeout: float, stall: float = 60.0, on_poll: Callable[[], None] | None = None
) -> Finished:
    """Poll the Process rows until every one of `ids` left in_progress; gives up after `timeout`, or after
    `stall` seconds without progress."""
    from django.db.models import Count, Q

    from processes.models import Process

    first, last = min(ids), max(ids)
    deadline = time.monotonic() + timeout
    last_done, last_change = -1, time.monotonic()
    done = success = 0
    while True:
        counts = Process.objects.filter(pk__gte=first, pk__lte=last).aggregate(
            done=Count("pk", filter=~Q(status=Process.Status.IN_PROGRESS)),
            success=Count("pk", filter=Q(status=Process.Status.SUCCESS)),
        )
        done, success = int(counts["done"]), int(counts["success"])
        if on_poll is not None:
            on_poll()
        if done >= len(ids):
            return Finished(done, success, False, False)
        now = time.monotonic()
        if done != last_done:
            last_done, last_change = done, now
        if now - last_change > stall:
            return Finished(done, success, True, False)
        if now > deadline:
            return Finished(done, success, False, True)
        time.sleep(0.5)


def process_figures(ids: list[int]) -> tuple[float, list[float], int]:
    """(seconds from first start to last finish, latencies in ms, finished count) of the given processes."""
    from processes.models import Process

    rows = list(
        Process.objects.filter(pk__gte=min(ids), pk__lte=max(ids), finished_at__isnull=False).values_list(
            "started_at", "finished_at"
        )
    )
    if not rows:
        return 0.0, [], 0
    first = min(s for s, _ in rows)
    last = max(f for _, f in rows)
    latencies = [(f - s).total_seconds() * 1000 for s, f in rows]
    return (last - first).total_seconds(), latencies, len(rows)


def disable_and_clean(bench: Bench | None) -> None:
    """Disable the topology (engines stop consuming it) and delete every queue and exchange of this run."""
    if bench is not None:
        try:
            from topology import services

            services.topology_version_disable(version=bench.version, actor=bench.user)
        except Exception as exc:
            print(f"  warning: could not disable {bench.topology.name}: {exc}")
    try:
        from topology.runtime.broker import publisher

        publisher.close()
    except Exception:
        pass
    delete_broker_objects(marker=RUN_ID)


def start_profiler(procs: Children, pid: int, name: str, seconds: float) -> Any | None:
    """With BENCH_PROFILE=1 and py-spy (BENCH_PYSPY, the virtualenv's or on PATH), sample the engine for `seconds` into
    bench/results/<name>.pyspy.txt (collapsed stacks: one line per stack, its sample count last)."""
    import os

    from bench.common import RESULTS_DIR, ROOT

    # py-spy is no project dependency: BENCH_PYSPY, else the virtualenv's, else one on PATH.
    spy = Path(os.environ.get("BENCH_PYSPY") or ROOT / ".venv" / "bin" / "py-spy")
    if not spy.exists():
        spy = Path(shutil.which("py-spy") or spy)
    if not os.environ.get("BENCH_PROFILE") or not spy.exists():
        return None
    out = RESULTS_DIR / f"{name}.pyspy.txt"
    args = [
        str(spy),
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--threads",
        "--rate",
        os.environ.get("BENCH_PROFILE_RATE", "25"),
    ]
    args += ["--duration", str(max(1, int(seconds))), "--output", str(out), "--nonblocking"]
    return procs.start(args, log_name=f"{name}-pyspy")


def finish_profiler(proc: Any | None) -> None:
    """Give py-spy the time to write its file (it only writes at the end of its --duration)."""
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.wait(timeout=60)
