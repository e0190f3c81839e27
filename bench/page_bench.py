"""Page memory (issue 9): the topology page and the versions API of a ~5 MB, 2,000-node topology with three
versions, served by a Daphne child process; median time per request and the web process's RSS growth."""

from __future__ import annotations

import statistics
import sys
import time

import requests

from bench import djangoenv
from bench.common import PYTHON, BenchResult, children, env_int, free_port, rss_kb, wait_port
from bench.editor_bench import _session_cookie, big_topology_bpmn

TARGET_MS = 300.0
TARGET_MB = 50.0
TARGET_BYTES = 5 * 1000 * 1000  # "5 MB": under FLOWYARD_MAX_BPMN_BYTES (5 MiB)


def padded_bpmn(nodes: int, size: int) -> str:
    """A valid diagram of `nodes` nodes, padded with documentation to `size` bytes, like a richly documented file."""
    xml = big_topology_bpmn(nodes)
    missing = size - len(xml.encode())
    if missing > 200:
        text = ("Runbook: retry the order export, then page the on-call engineer. " * (missing // 64 + 1))[
            : missing - 120
        ]
        marker = xml.index("<bpmn:process")
        end = xml.index(">", marker) + 1
        xml = xml[:end] + f"<bpmn:documentation>{text}</bpmn:documentation>" + xml[end:]
    return xml


def run() -> BenchResult:
    """BENCH_PAGE_RUNS (default 5) GETs of each URL after one warm-up; RSS before the first and after the last."""
    result = BenchResult("pages")
    runs = env_int("BENCH_PAGE_RUNS", 5)
    size = env_int("BENCH_PAGE_NODES", 2000)
    djangoenv.setup()
    from topology import services
    from topology.models import Node, TopologyVersion

    tenant, user = djangoenv.bench_owner()
    xml = padded_bpmn(size, TARGET_BYTES)
    topology = services.topology_create(tenant=tenant, name=f"Bench pages {size}", actor=user, bpmn_xml=xml)
    for edit in range(2):  # three versions in all, as a topology that has been edited a few times
        latest = TopologyVersion.objects.filter(topology=topology).order_by("-number").first()
        assert latest is not None
        TopologyVersion.objects.filter(pk=latest.pk).update(status=TopologyVersion.Status.PUBLISHED)
        latest.refresh_from_db()
        edited = xml.replace('name="Step 3"', f'name="Step 3 (edit {edit + 1})"', 1)
        services.topology_version_save(version=latest, bpmn_xml=edited, actor=user)
    versions = TopologyVersion.objects.filter(topology=topology).count()
    nodes = Node.objects.filter(version__topology=topology).count()
    result.details.update({"bpmn_bytes": len(xml.encode()), "versions": versions, "nodes_all_versions": nodes})
    cookie_name, cookie_value = _session_cookie(user)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    urls = {"topology page": f"/topologies/{topology.pk}/", "versions API": f"/api/topologies/{topology.pk}/versions/"}
    timings: dict[str, list[float]] = {name: [] for name in urls}
    with children() as procs:
        daphne = procs.start(
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
            log_name="pages-daphne",
        )
        wait_port(port, daphne)
        http = requests.Session()
        http.cookies.set(cookie_name, cookie_value)
        assert http.get(base + "/healthz", timeout=30).ok
        before = rss_kb(daphne.pid)
        peak = before or 0
        for attempt in range(runs + 1):
            for name, path in urls.items():
                t0 = time.perf_counter()
                response = http.get(base + path, timeout=120)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status_code}")
                if attempt:  # the first round warms the process up, not counted
                    timings[name].append(elapsed)
                peak = max(peak, rss_kb(daphne.pid) or 0)
        after = rss_kb(daphne.pid)
    if before is None or after is None:
        raise RuntimeError("the Daphne process is gone: cannot read its RSS")
    for name, values in timings.items():
        result.add(f"{name} ({size} nodes)", statistics.median(values), "ms", target=TARGET_MS, higher_is_better=False)
    result.add("web rss growth", (max(after, peak) - before) / 1024, "MB", target=TARGET_MB, higher_is_better=False)
    result.details.update(
        {
            "ms_all": {name: [round(v, 1) for v in values] for name, values in timings.items()},
            "rss_mb": [round(before / 1024, 1), round(peak / 1024, 1), round(after / 1024, 1)],
        }
    )
    print(f"  pages: {result.details}", file=sys.stderr)
    return result
