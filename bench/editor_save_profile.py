"""The editor's save API in-process, without a browser: `python bench/editor_save_profile.py [NODES] [--profile]`.

Creates a NODES-node topology (the editor benchmark's diagram, default 1,000) in the benchmark database, then PUTs
it back through the API with one node renamed each time, as the editor does, and prints the median wall and CPU
milliseconds of a save (CPU time is what a loaded, shared machine disturbs least). `--profile` adds cProfile's
heaviest functions (cumulative) of one more save. Not part of `make bench`: a tool for the runbook."""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import djangoenv

SAVES = 11


def main(argv: list[str]) -> None:
    size = int(next((a for a in argv if a.isdigit()), "1000"))
    djangoenv.setup()
    from django.test import Client

    from bench.editor_bench import big_topology_bpmn
    from topology import services

    tenant, user = djangoenv.bench_owner()
    xml = big_topology_bpmn(size)
    topology = services.topology_create(tenant=tenant, name=f"Save profile {size}", actor=user, bpmn_xml=xml)
    client = Client()
    client.force_login(user)
    url = f"/api/topologies/{topology.pk}/versions/1/xml/"

    def save(round_: int) -> tuple[float, float]:
        body = json.dumps({"bpmn_xml": xml.replace('name="Step 3"', f'name="Step 3 ({round_})"')})
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.put(url, data=body, content_type="application/json", HTTP_HOST="localhost")
        if response.status_code != 200:
            raise SystemExit(f"save failed: HTTP {response.status_code}")
        return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000

    save(0)  # warm-up
    runs = [save(i) for i in range(1, SAVES + 1)]
    print(
        json.dumps(
            {
                "nodes": size,
                "saves": SAVES,
                "wall_ms": round(statistics.median(r[0] for r in runs), 1),
                "cpu_ms": round(statistics.median(r[1] for r in runs), 1),
            }
        )
    )
    if "--profile" in argv:
        profiler = cProfile.Profile()
        profiler.enable()
        save(SAVES + 1)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
