// Diagrams that show what runs: the topology monitor (an overlay per node with queue depth, in flight, processed
// and failed per minute, trashed, waiting; nodes coloured idle / busy / backing up / failing) and a process's
// path (visited nodes with their times). Both re-read a JSON endpoint when the socket says something changed.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "./monitor.css";

import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

import { RenderModule } from "./editor/index";
import { moddleDescriptor } from "./editor/kinds";
import { withLayout } from "./editor/load";

const STATES = ["idle", "busy", "backlog", "failing"];
const STATE_TEXT = { idle: "Idle", busy: "Busy", backlog: "Backing up", failing: "Failing" };
const REFRESH_MIN_MS = 400;
const SAFETY_POLL_MS = 15000;

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 10000) return `${Math.round(n / 1000)}k`;
  return String(n);
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}

// Re-run `fn` on every fy:changed notice, at most once per REFRESH_MIN_MS, with a trailing call so the last
// notice of a burst is never lost; plus a slow poll in case the socket is down.
function onChanges(fn) {
  let last = 0;
  let timer = null;
  let running = false;
  const run = async () => {
    timer = null;
    if (running) {
      timer = window.setTimeout(run, REFRESH_MIN_MS);
      return;
    }
    running = true;
    last = Date.now();
    try {
      await fn();
    } catch (error) {
      console.warn("refresh failed", error);
    } finally {
      running = false;
    }
  };
  const schedule = () => {
    if (timer) return;
    timer = window.setTimeout(run, Math.max(0, last + REFRESH_MIN_MS - Date.now()));
  };
  document.body.addEventListener("fy:changed", schedule);
  window.setInterval(schedule, SAFETY_POLL_MS);
  return run();
}

async function fetchText(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`Loading the diagram failed: ${response.status}`);
  return response.text();
}

// The editor's renderer and moddle extension, configured from the same node registry, in a read-only viewer.
async function makeViewer(root) {
  const container = root.querySelector("[data-canvas]");
  const [registry, xml] = await Promise.all([getJSON(root.dataset.registryUrl), fetchText(root.dataset.xmlUrl)]);
  const viewer = new NavigatedViewer({
    container,
    moddleExtensions: { flowyard: moddleDescriptor(registry) },
    additionalModules: [RenderModule],
    flowyard: { registry, readOnly: true },
  });
  await viewer.importXML((await withLayout(xml)).xml);
  const canvas = viewer.get("canvas");
  // Fit, then leave a margin: badges and overlays stick out of the shapes' bounds.
  const fit = () => {
    canvas.zoom("fit-viewport", "auto");
    canvas.zoom(Math.min(1, canvas.zoom() * 0.9), "auto");
  };
  fit();
  // Rotating a phone or resizing the window: keep the whole diagram in view.
  let width = container.clientWidth;
  new ResizeObserver(() => {
    if (container.clientWidth === width) return;
    width = container.clientWidth;
    canvas.resized();
    fit();
  }).observe(container);
  root.querySelector("[data-fit]")?.addEventListener("click", fit);
  return viewer;
}

// Under the node, centred; events carry their name below the circle, so their overlay sits lower.
function overlayPosition(shape) {
  const isEvent = /Event$/.test(shape.type);
  return { bottom: isEvent ? -24 : -6, left: shape.width / 2 };
}

// Overlays shrink with the diagram on small screens (down to half size) so neighbours do not overlap.
const OVERLAY_SCALE = { min: 0.5, max: 1 };

function nodeShapes(viewer) {
  return viewer
    .get("elementRegistry")
    .filter((e) => !e.labelTarget && e.type !== "label" && e.type !== "bpmn:Process" && !e.waypoints);
}

// ---- topology monitor ---------------------------------------------------------------------------------------

function monitorOverlay(key, s) {
  // Plain characters only: servers and kiosks often lack an emoji font.
  const rows = [
    ["Queue depth (ready messages)", "depth", s.depth === null ? "–" : fmt(s.depth), "q"],
    ["In flight (delivered, not yet acked)", "in-flight", s.in_flight === null ? "–" : fmt(s.in_flight), "▶"],
    ["Waiting in delays (retry, repeat, limiter) in the last minute", "waiting", fmt(s.waiting), "wait"],
  ];
  const rates = [
    ["Processed per minute", "processed", `${fmt(s.processed_min)}/min`, "✓"],
    ["Failed per minute", "failed", `${fmt(s.failed_min)}/min`, "✗"],
    ["Trashed in the last hour", "trashed", fmt(s.trashed_hour), "trash"],
  ];
  const cell = ([title, cls, value, icon]) =>
    `<span class="fy-ov-${cls}" title="${esc(title)}">${icon} ${esc(value)}</span>`;
  return `<div class="fy-ov fy-ov-${esc(s.state)}" data-testid="overlay-${esc(key)}" data-state="${esc(s.state)}"
    data-processed-hour="${s.processed_hour}" data-failed-hour="${s.failed_hour}"
    title="${esc(STATE_TEXT[s.state] || s.state)} · ${s.processed_hour} processed, ${s.failed_hour} failed in the last hour">
    <div>${rows.map(cell).join("")}</div><div>${rates.map(cell).join("")}</div></div>`;
}

async function bootMonitor(root) {
  const viewer = await makeViewer(root);
  const overlays = viewer.get("overlays");
  const canvas = viewer.get("canvas");
  const ids = new Map(); // node key -> overlay id
  const panel = document.querySelector("[data-node-panel]");
  const stamp = root.querySelector("[data-sampled]");

  const refresh = async () => {
    const data = await getJSON(root.dataset.statsUrl);
    for (const [key, stats] of Object.entries(data.nodes)) {
      const shape = viewer.get("elementRegistry").get(key);
      if (!shape) continue;
      if (ids.has(key)) overlays.remove(ids.get(key));
      ids.set(key, overlays.add(key, "fy-monitor", {
          position: overlayPosition(shape),
          scale: OVERLAY_SCALE,
          html: monitorOverlay(key, stats),
        }));
      for (const state of STATES) canvas.removeMarker(key, `fy-state-${state}`);
      canvas.addMarker(key, `fy-state-${stats.state}`);
    }
    root.dataset.updated = String(Date.now());
    if (stamp) {
      stamp.textContent = data.depths_at ? "queue depths sampled each second" : "queue depths unavailable (no sampler running)";
    }
  };

  viewer.get("eventBus").on("element.click", ({ element }) => {
    if (!panel || !ids.has(element.id)) return;
    for (const shape of nodeShapes(viewer)) canvas.removeMarker(shape.id, "fy-selected");
    canvas.addMarker(element.id, "fy-selected");
    const url = root.dataset.nodeUrl.replace("__key__", encodeURIComponent(element.id));
    window.htmx.ajax("GET", url, { target: panel, swap: "innerHTML" });
    panel.dataset.node = element.id;
  });
  // Keep the open node's panel live too.
  document.body.addEventListener("fy:changed", () => {
    if (panel && panel.dataset.node) {
      const url = root.dataset.nodeUrl.replace("__key__", encodeURIComponent(panel.dataset.node));
      window.htmx.ajax("GET", url, { target: panel, swap: "innerHTML" });
    }
  });
  await onChanges(refresh);
}

// ---- process path -------------------------------------------------------------------------------------------

function pathOverlay(key, n) {
  const cls = n.failed ? "fy-ov-failing" : n.waits && !n.runs ? "fy-ov-waiting" : "fy-ov-ok";
  const parts = [`${n.runs}× · ${fmtMs(n.total_ms)}`];
  if (n.waits) parts.push(`${n.waits} wait${n.waits > 1 ? "s" : ""}`);
  if (n.failed) parts.push(`${n.failed} failed`);
  return `<div class="fy-ov fy-ov-path ${cls}" data-testid="path-${esc(key)}">${esc(parts.join(" · "))}</div>`;
}

async function bootPath(root) {
  const viewer = await makeViewer(root);
  const overlays = viewer.get("overlays");
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const ids = new Map();
  const refresh = async () => {
    const data = await getJSON(root.dataset.pathUrl);
    for (const [key, n] of Object.entries(data.nodes)) {
      const shape = registry.get(key);
      if (!shape) continue;
      if (ids.has(key)) overlays.remove(ids.get(key));
      ids.set(key, overlays.add(key, "fy-path", { position: overlayPosition(shape), scale: OVERLAY_SCALE, html: pathOverlay(key, n) }));
      canvas.removeMarker(key, "fy-visited");
      canvas.removeMarker(key, "fy-visited-failed");
      canvas.addMarker(key, n.failed ? "fy-visited-failed" : "fy-visited");
    }
    for (const edge of registry.filter((e) => e.waypoints)) {
      const from = edge.source && data.nodes[edge.source.id];
      const to = edge.target && data.nodes[edge.target.id];
      if (from && to) canvas.addMarker(edge.id, "fy-visited-edge");
    }
    root.dataset.updated = String(Date.now());
  };
  if (root.dataset.live === "true") await onChanges(refresh);
  else await refresh();
}

function boot() {
  for (const root of document.querySelectorAll("[data-monitor-diagram]")) {
    bootMonitor(root).catch((error) => {
      root.querySelector("[data-canvas]").textContent = `The diagram could not be shown: ${error.message}`;
    });
  }
  for (const root of document.querySelectorAll("[data-path-diagram]")) {
    bootPath(root).catch((error) => {
      root.querySelector("[data-canvas]").textContent = `The diagram could not be shown: ${error.message}`;
    });
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
