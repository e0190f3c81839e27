"""Editor benchmark (issue 4): open a 200-node topology in the bpmn-js editor and save it, in Debian's Chromium
against a Daphne child process serving the benchmark database."""

from __future__ import annotations

import statistics
import sys
from typing import Any

from bench import djangoenv
from bench.common import PYTHON, BenchResult, children, env_int, free_port, wait_port

CHROMIUM = "/usr/bin/chromium"
# The flags of STYLE.md (the same as tests/e2e/conftest.py).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_MS = 1000.0


def big_topology_bpmn(size: int = 200) -> str:
    """A valid `size`-node diagram: a manual start, a chain of Python and transform nodes with a parallel
    fan-out/join every 20 nodes, and an end; laid out by the editor engineer's builder."""
    from topology.bpmn.build import build_bpmn

    nodes: list[dict[str, Any]] = [{"id": "Start_1", "kind": "start.manual", "name": "Start"}]
    edges: list[dict[str, Any]] = []
    previous = "Start_1"
    index = 1
    while len(nodes) < size - 1:
        index += 1
        if index % 20 == 0 and len(nodes) < size - 5:
            fan, left, right, join = (f"Fan_{index}", f"Left_{index}", f"Right_{index}", f"Join_{index}")
            nodes += [
                {"id": fan, "kind": "fanout", "name": f"Fan out {index}"},
                {"id": left, "kind": "python", "name": f"Left {index}", "registry": "flowyard.noop"},
                {"id": right, "kind": "transform", "name": f"Right {index}", "expression": "@"},
                {"id": join, "kind": "join", "name": f"Join {index}"},
            ]
            edges += [
                {"source": previous, "target": fan},
                {"source": fan, "target": left},
                {"source": fan, "target": right},
                {"source": left, "target": join},
                {"source": right, "target": join},
            ]
            previous = join
            continue
        node_id = f"Node_{index}"
        if index % 2:
            nodes.append({"id": node_id, "kind": "python", "name": f"Step {index}", "registry": "flowyard.noop"})
        else:
            nodes.append({"id": node_id, "kind": "transform", "name": f"Step {index}", "expression": "{id: id}"})
        edges.append({"source": previous, "target": node_id})
        previous = node_id
    nodes.append({"id": "End_1", "kind": "end", "name": "End"})
    edges.append({"source": previous, "target": "End_1"})
    return build_bpmn(nodes, edges, process_id="Process_bench_200", process_name="Bench 200 nodes")


def _session_cookie(user: Any) -> tuple[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


OPEN_JS = """async () => {
  const editor = window.flowyardEditor;
  await editor.ready;
  const start = performance.getEntriesByName('editor:load:start')[0];
  const end = performance.getEntriesByName('editor:load:end')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    navigationToReady: end.startTime,
    marks: end.startTime - start.startTime,
    responseEnd: nav ? nav.responseEnd : null,
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
    shapes: editor.modeler.get('elementRegistry').filter((e) => !e.labelTarget && e.type !== 'bpmn:Process'
      && e.type !== 'bpmn:SequenceFlow' && e.type !== 'label').length,
  };
}"""

SAVE_JS = """async (round) => {
  const editor = window.flowyardEditor;
  await editor.ready;
  const registry = editor.modeler.get('elementRegistry');
  const modeling = editor.modeler.get('modeling');
  // A real change each round, so the server parses, validates and derives all 200 nodes again.
  modeling.updateProperties(registry.get('Node_3'), { name: `Step 3 (round ${round})` });
  const t0 = performance.now();
  const res = await editor.save();
  return { ms: performance.now() - t0, ok: Boolean(res && res.ok), status: res ? res.status : null };
}"""


def run() -> BenchResult:
    """Median of BENCH_EDITOR_RUNS (default 5, after one warm-up) opens and saves of a 200-node topology."""
    result = BenchResult("editor")
    runs = env_int("BENCH_EDITOR_RUNS", 5)
    size = env_int("BENCH_EDITOR_NODES", 200)
    djangoenv.setup()
    from topology import services
    from topology.models import Node, TopologyVersion

    tenant, user = djangoenv.bench_owner()
    topology = services.topology_create(
        tenant=tenant, name=f"Bench editor {size}", actor=user, bpmn_xml=big_topology_bpmn(size)
    )
    version = TopologyVersion.objects.filter(topology=topology).order_by("number").first()
    assert version is not None
    node_count = Node.objects.filter(version=version).count()
    result.details.update({"nodes": node_count, "validation_errors": len(version.errors), "runs": runs})
    cookie_name, cookie_value = _session_cookie(user)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path = f"/topologies/{topology.pk}/versions/{version.number}/edit/"
    opens: list[dict[str, float]] = []
    saves: list[float] = []
    with children() as procs:
        daphne = procs.start(
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "admin_ui.asgi:application"],
            log_name="editor-daphne",
        )
        wait_port(port, daphne)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                for attempt in range(runs + 1):  # the first open warms Daphne and the caches up, not counted
                    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
                    context.set_default_timeout(30_000)
                    context.add_cookies([{"name": cookie_name, "value": cookie_value, "url": base}])
                    try:
                        page = context.new_page()
                        errors: list[str] = []
                        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                        page.goto(path, wait_until="commit")
                        page.wait_for_function("() => window.flowyardEditor && window.flowyardEditor.ready")
                        timing = page.evaluate(OPEN_JS)
                        if errors:
                            raise RuntimeError(f"page errors: {errors[:3]}")
                        saved = page.evaluate(SAVE_JS, attempt)
                        if not saved["ok"]:
                            raise RuntimeError(f"save failed with HTTP {saved['status']}")
                        if attempt:
                            opens.append(timing)
                            saves.append(saved["ms"])
                        result.details["shapes_rendered"] = timing["shapes"]
                    finally:
                        context.close()
            finally:
                browser.close()
    open_ms = statistics.median(t["navigationToReady"] for t in opens)
    result.add("open (navigation to rendered)", open_ms, "ms", target=TARGET_MS, higher_is_better=False)
    result.add("open (editor marks)", statistics.median(t["marks"] for t in opens), "ms", higher_is_better=False)
    result.add("save (round trip)", statistics.median(saves), "ms", target=TARGET_MS, higher_is_better=False)
    result.details.update(
        {
            "open_ms_all": [round(t["navigationToReady"], 1) for t in opens],
            "marks_ms_all": [round(t["marks"], 1) for t in opens],
            "save_ms_all": [round(ms, 1) for ms in saves],
            "html_response_end_ms": statistics.median(t["responseEnd"] or 0 for t in opens),
        }
    )
    print(
        f"  editor: {node_count} nodes, opens {result.details['open_ms_all']} ms, "
        f"saves {result.details['save_ms_all']} ms",
        file=sys.stderr,
    )
    return result
