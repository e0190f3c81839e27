"""Paired opens of the editor with two front-end builds: `python bench/editor_ab.py A=DIR B=DIR [--nodes 1000]
[--rounds 8]`.

Each DIR holds a build's static files (`cd static && npm run build && cp -r dist /tmp/build-a`). One Daphne on the
benchmark database serves the page; each round opens the same topology once per build, in alternating order, in a
fresh browser context whose /static/ requests are answered from that build's DIR. Per open: the editor benchmark's
figure (navigation to `editor:load:end`), the first frame painted after that mark (so work moved past the mark
shows), and the renderer main thread's CPU time up to the mark from a Chrome trace (what a loaded, shared machine
disturbs least). Prints each build's medians and the paired differences of B and later builds against A.
Templates and the server are the working tree's for both. Not part of `make bench`: a tool for the runbook."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import djangoenv
from bench.editor_bench import big_topology_bpmn, served_browser, session_cookie

# Record when the first frame after the editor's ready promise has been painted: rAF runs before the frame's
# style, layout and paint; a task queued from it runs after them.
FIRST_FRAME_JS = """(() => {
  let api;
  Object.defineProperty(window, 'flowyardEditor', { configurable: true, get: () => api, set(value) {
    api = value;
    queueMicrotask(() => api.ready.then(() => requestAnimationFrame(() => setTimeout(() => {
      window.__fyFirstFrame = performance.now();
    }))));
  }});
})();"""

READ_JS = """async () => {
  await window.flowyardEditor.ready;
  while (!window.__fyFirstFrame) await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    ready: performance.getEntriesByName('editor:load:end')[0].startTime,
    frame: window.__fyFirstFrame,
  };
}"""

MIME = {".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".woff2": "font/woff2"}


def main_thread_cpu_ms(trace_path: Path) -> float:
    """CPU ms of the renderer main thread's outermost trace events up to the editor:load:end mark."""
    data = json.loads(trace_path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    end = next(e for e in events if e.get("name") == "editor:load:end")
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    own = [e for e in events if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in mains and e["pid"] == end["pid"]]
    cpu, covered = 0, 0
    for event in sorted(own, key=lambda e: (e["ts"], -e.get("dur", 0))):
        if event["ts"] > end["ts"] or event["ts"] < covered:  # after the mark, or nested in a counted event
            continue
        covered = event["ts"] + event.get("dur", 0)
        cpu += event.get("tdur", 0)
    return cpu / 1000


def open_once(browser: Any, base: str, cookie: tuple[str, str], path: str, build: Path) -> dict[str, float]:
    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
    try:
        context.set_default_timeout(30_000)
        context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base}])
        context.add_init_script(FIRST_FRAME_JS)

        def serve(route: Any) -> None:
            file = build / route.request.url.split("/static/", 1)[1].split("?")[0]
            if file.is_file():
                route.fulfill(status=200, body=file.read_bytes(), headers={"content-type": MIME.get(file.suffix, "")})
            else:
                route.continue_()

        context.route("**/static/**", serve)
        page = context.new_page()
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.json"
            browser.start_tracing(page=page, path=str(trace), categories=["toplevel", "blink.user_timing"])
            page.goto(path, wait_until="commit")
            page.wait_for_function("() => window.flowyardEditor && window.flowyardEditor.ready")  # as the benchmark
            result = page.evaluate(READ_JS)
            browser.stop_tracing()
            result["cpu"] = main_thread_cpu_ms(trace)
        return result
    finally:
        context.close()


def report(size: int, builds: dict[str, Path], runs: dict[str, list[dict[str, float]]]) -> None:
    print(f"{size} nodes, {len(next(iter(runs.values())))} paired rounds (ms, medians)")
    for name in builds:
        med = {key: statistics.median(r[key] for r in runs[name]) for key in ("ready", "frame", "cpu")}
        ready, frame, cpu = med["ready"], med["frame"], med["cpu"]
        print(f"  {name:>8}: ready {ready:6.0f}  first frame {frame:6.0f}  main-thread CPU {cpu:5.0f}")
    first, *others = builds
    for name in others:
        for key in ("ready", "frame", "cpu"):
            diffs = sorted(round(b[key] - a[key]) for a, b in zip(runs[first], runs[name], strict=True))
            print(f"  {name} - {first} {key:>5}: median {statistics.median(diffs):+5.0f}  all {diffs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", help="NAME=DIR of a build's static files; the first is the baseline")
    parser.add_argument("--nodes", default="1000", help="diagram sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    builds = {name: Path(folder) for name, folder in (b.split("=", 1) for b in args.builds)}
    djangoenv.setup()
    from topology import services

    tenant, user = djangoenv.bench_owner()
    cookie = session_cookie(user)
    with served_browser("editor-ab-daphne") as (browser, base):
        for size in (int(n) for n in args.nodes.split(",")):
            bpmn = big_topology_bpmn(size)
            topology = services.topology_create(tenant=tenant, name=f"A/B {size}", actor=user, bpmn_xml=bpmn)
            path = f"/topologies/{topology.pk}/versions/1/edit/"
            for build in builds.values():  # warm Daphne and the caches up, not counted
                open_once(browser, base, cookie, path, build)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
            for round_ in range(args.rounds):
                order = list(builds.items())
                for name, build in order if round_ % 2 == 0 else order[::-1]:
                    runs[name].append(open_once(browser, base, cookie, path, build))
            report(size, builds, runs)


if __name__ == "__main__":
    main()
