// Flowyard topology editor: bpmn-js with the kinds of the node registry, a properties panel, save /
// publish / enable, validation markers, and window.flowyardEditor for the benchmarks and browser tests.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-codes.css";
import "diagram-js-minimap/assets/diagram-js-minimap.css";
import "./editor.css";

import Modeler from "bpmn-js/lib/Modeler";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import MinimapModule from "diagram-js-minimap";

import { getList, request } from "./editor/api";
import { ModelingModule, RenderModule } from "./editor/index";
import { moddleDescriptor } from "./editor/kinds";
import { describeWarning, diagramFor, readBpmnFile, withLayout } from "./editor/load";
import PanelModule from "./editor/panel";
import ProblemsModule from "./editor/problems";

const AUTOSAVE_MS = 2000;
const URL_KEYS = ["xmlUrl", "saveUrl", "publishUrl", "enableUrl", "disableUrl", "exportUrl", "importUrl", "historyUrl"];

const BLANK_XML = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:flowyard="http://flowyard.io/schema/bpmn/1.0" id="Definitions_1" targetNamespace="http://flowyard.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="true" />
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1" />
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;

/** Keeps node names unique (the server requires it): "Call API" becomes "Call API 2" on a second drop. */
function UniqueNames(eventBus, elementRegistry) {
  eventBus.on("commandStack.shape.create.preExecute", ({ context }) => {
    const bo = context.shape && context.shape.businessObject;
    if (!bo || !bo.name || context.shape.labelTarget) return;
    const taken = new Set(
      elementRegistry.filter((e) => !e.labelTarget && e.businessObject && e.businessObject !== bo).map((e) => e.businessObject.name),
    );
    if (!taken.has(bo.name)) return;
    const base = bo.name.replace(/ \d+$/, "");
    let n = 2;
    while (taken.has(`${base} ${n}`)) n += 1;
    bo.name = `${base} ${n}`;
  });
}
UniqueNames.$inject = ["eventBus", "elementRegistry"];

const $ = (sel, root = document) => root.querySelector(sel);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function toast(message, level = "info") {
  const item = document.createElement("div");
  item.className = `fy-toast-item flash flash-${level}`;
  item.setAttribute("role", level === "error" ? "alert" : "status");
  item.textContent = message;
  $("#fy-toast").appendChild(item);
  setTimeout(() => item.remove(), level === "error" ? 8000 : 3500);
}

function setSaveState(text, level = "") {
  const el = $("[data-fy=save-state]");
  el.textContent = text;
  el.dataset.level = level;
}

/** bpmn-js (viewer when read-only) with the Flowyard modules, configured from the node registry. */
function createModeler(config, registry) {
  const common = {
    container: $("#fy-canvas"),
    moddleExtensions: { flowyard: moddleDescriptor(registry) },
    minimap: { open: false },
    flowyard: {
      registry,
      page: config,
      readOnly: config.readOnly,
      panelEl: $("#fy-panel"),
      problemListEl: $("[data-fy=problem-list]"),
      problemCountEl: $("[data-fy=problem-count]"),
    },
  };
  const modules = [RenderModule, MinimapModule, PanelModule, ProblemsModule];
  if (config.readOnly) return new NavigatedViewer({ ...common, additionalModules: modules });
  return new Modeler({
    ...common,
    // diagram-js 15 binds keys to the focused canvas (keyboard.bindTo was removed); global
    // shortcuts (Ctrl+S, and undo/redo/find outside the canvas) are handled by bindKeys().
    keyboard: { bind: true },
    additionalModules: [...modules, ModelingModule, { __init__: ["flowyardUniqueNames"], flowyardUniqueNames: ["type", UniqueNames] }],
  });
}

/** Toolbar badges and buttons for the version's state. */
function renderStatus(config, dirty) {
  const readOnly = config.readOnly;
  const published = config.versionStatus === "published";
  $("[data-fy=version]").textContent = `v${config.versionNumber}`;
  const status = $("[data-fy=status]");
  status.textContent = published ? "Published" : "Draft";
  status.className = `badge badge-${config.versionStatus}`;
  const enabled = $("[data-fy=enabled]");
  enabled.textContent = config.enabled ? "Enabled" : "Disabled";
  enabled.className = `badge ${config.enabled ? "badge-enabled" : ""}`;
  const publishBtn = $("[data-action=publish]");
  if (publishBtn) {
    publishBtn.disabled = readOnly || (published && !dirty);
    publishBtn.title = published && !dirty ? "This version is published" : "Validate and publish this version";
  }
  const enableBtn = $("[data-action=enable]");
  if (enableBtn) {
    enableBtn.hidden = config.enabled;
    enableBtn.disabled = readOnly || !published;
    enableBtn.title = published ? "Start consuming messages with this version" : "Publish the version first";
  }
  const disableBtn = $("[data-action=disable]");
  if (disableBtn) {
    disableBtn.hidden = !config.enabled;
    disableBtn.disabled = readOnly;
  }
  const history = $("[data-fy=history]");
  if (history && config.historyUrl) history.href = config.historyUrl;
}

/** The bounds of everything drawn, from the elements' own coordinates (no DOM read, so no layout). */
function diagramBounds(modeler) {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const grow = (x, y, w = 0, h = 0) => {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x + w);
    maxY = Math.max(maxY, y + h);
  };
  modeler.get("elementRegistry").forEach((e) => {
    if (!e.parent) return;
    if (e.waypoints) for (const p of e.waypoints) grow(p.x, p.y);
    else grow(e.x, e.y, e.width, e.height);
  });
  return minX === Infinity ? null : { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

/** The bounds of a BPMN diagram from its DI (shapes, labels, edge waypoints), before anything is drawn. */
function diBounds(diagram) {
  const box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  const grow = (x, y, w = 0, h = 0) => {
    box.minX = Math.min(box.minX, x);
    box.minY = Math.min(box.minY, y);
    box.maxX = Math.max(box.maxX, x + w);
    box.maxY = Math.max(box.maxY, y + h);
  };
  for (const di of (diagram && diagram.plane && diagram.plane.planeElement) || []) {
    if (di.bounds) grow(di.bounds.x, di.bounds.y, di.bounds.width, di.bounds.height);
    for (const p of di.waypoint || []) grow(p.x, p.y);
    const label = di.label && di.label.bounds;
    if (label) grow(label.x, label.y, label.width, label.height);
  }
  if (box.minX === Infinity) return null;
  return { x: box.minX, y: box.minY, width: box.maxX - box.minX, height: box.maxY - box.minY };
}

/**
 * Fit the diagram, but never zoom a small diagram beyond 100 %; with `minScale`, a big diagram
 * opens readable at its top-left corner instead of as a thumbnail. One viewbox change: canvas.zoom("fit-viewport")
 * measures the SVG and each viewbox read after a change forces a layout of every shape (a third of a
 * 1,000-node open).
 */
function fitCapped(modeler, minScale = 0, bounds = undefined) {
  const canvas = modeler.get("canvas");
  const inner = bounds === undefined ? diagramBounds(modeler) : bounds;
  if (!inner) return;
  const outer = canvas.getSize();
  const padding = 20;
  const fit = Math.min(outer.width / (inner.width + 2 * padding), outer.height / (inner.height + 2 * padding));
  let box;
  if (fit > 1) {
    box = { x: inner.x + inner.width / 2 - outer.width / 2, y: inner.y + inner.height / 2 - outer.height / 2, width: outer.width, height: outer.height };
  } else if (fit < minScale) {
    // Leave room for the palette on the left.
    const margin = 40 / minScale;
    box = { x: inner.x - margin - 100 / minScale, y: inner.y - margin, width: outer.width / minScale, height: outer.height / minScale };
  } else {
    const width = outer.width / fit;
    const height = outer.height / fit;
    box = { x: inner.x + inner.width / 2 - width / 2, y: inner.y + inner.height / 2 - height / 2, width, height };
  }
  canvas.viewbox(box);
}

/** Save state and the commands of the toolbar: save / autosave, publish, enable, export, import. */
class Editor {
  constructor(config, modeler) {
    this.config = config;
    this.modeler = modeler;
    this.panel = modeler.get("flowyardPanel");
    this.problems = modeler.get("flowyardProblems");
    this.changeSeq = 0;
    this.savedSeq = 0;
    this.saving = null;
    this.autosaveTimer = null;
    this.lastErrors = config.errors || [];
  }

  isDirty() {
    return this.changeSeq !== this.savedSeq;
  }

  status() {
    renderStatus(this.config, this.isDirty());
  }

  /** Follow the server to a new version (editing a published version creates a draft). */
  applyVersion(version, editorUrl) {
    if (!version) return;
    const config = this.config;
    const oldNumber = config.versionNumber;
    if (version.number !== undefined && version.number !== oldNumber) {
      for (const key of URL_KEYS) {
        if (typeof config[key] === "string") config[key] = config[key].replace(`/versions/${oldNumber}/`, `/versions/${version.number}/`);
      }
      config.versionNumber = version.number;
    }
    if (version.status) config.versionStatus = version.status;
    if (version.enabled !== undefined) config.enabled = version.enabled;
    if (editorUrl) {
      const target = new URL(editorUrl, window.location.href);
      if (target.pathname !== window.location.pathname) history.replaceState(null, "", target.pathname + target.search);
    }
    this.status();
  }

  showProblems({ errors, unsupported, importWarnings }) {
    if (errors) this.lastErrors = errors;
    this.problems.set({ errors, unsupported, importWarnings });
    this.panel.setErrors(this.lastErrors);
  }

  async doSave() {
    const seq = this.changeSeq;
    setSaveState("Saving…", "busy");
    let xml;
    const started = performance.now();
    try {
      ({ xml } = await this.modeler.saveXML({ format: true }));
      this.lastSerialiseMs = performance.now() - started;
    } catch (err) {
      setSaveState("Not saved", "error");
      toast(`Cannot serialise the diagram: ${err.message}`, "error");
      return { ok: false, status: 0, data: { detail: err.message } };
    }
    const res = await request("PUT", this.config.saveUrl, { bpmn_xml: xml });
    if (!res.ok) {
      setSaveState("Not saved", "error");
      toast((res.data && res.data.detail) || `Save failed (${res.status})`, "error");
      if (res.data && res.data.errors) this.showProblems({ errors: res.data.errors });
      return res;
    }
    this.savedSeq = seq;
    this.applyVersion(res.data.version, res.data.editorUrl);
    this.showProblems({ errors: res.data.errors || [], unsupported: res.data.unsupported || [] });
    const n = (res.data.errors || []).length;
    if (this.isDirty()) setSaveState("Unsaved changes", "dirty");
    else setSaveState(n ? `Saved · ${plural(n, "problem")}` : "Saved", n ? "warn" : "ok");
    this.status();
    return res;
  }

  async save({ auto } = {}) {
    if (this.config.readOnly) return { ok: false, status: 0, data: { detail: "read-only" } };
    this.panel.flush();
    clearTimeout(this.autosaveTimer);
    // One request at a time: a save asked for during another one runs right after it.
    while (this.saving) await this.saving;
    if (auto && !this.isDirty()) return { ok: true, status: 200, data: {} };
    this.saving = this.doSave().finally(() => {
      this.saving = null;
    });
    return this.saving;
  }

  onChanged() {
    this.changeSeq += 1;
    this.status();
    if (this.config.versionStatus === "draft") {
      setSaveState("Unsaved changes", "dirty");
      clearTimeout(this.autosaveTimer);
      this.autosaveTimer = setTimeout(() => this.save({ auto: true }), AUTOSAVE_MS);
    } else {
      setSaveState("Unsaved changes — saving creates a new draft", "dirty");
    }
  }

  async publish() {
    if (this.isDirty() || this.saving) {
      const saved = await this.save();
      if (!saved.ok) return;
    }
    $("[data-action=publish]").disabled = true;
    const res = await request("POST", this.config.publishUrl, {});
    if (res.ok) {
      this.applyVersion((res.data && res.data.version) || { status: "published" });
      if (res.data && res.data.errors) this.showProblems({ errors: res.data.errors });
      toast(`Version ${this.config.versionNumber} published.`, "success");
    } else {
      this.showProblems({ errors: (res.data && res.data.errors) || this.lastErrors });
      openProblems(true);
      toast((res.data && res.data.detail) || `Publish refused (${res.status}).`, "error");
    }
    this.status();
  }

  async setEnabled(enabled) {
    const res = await request("POST", enabled ? this.config.enableUrl : this.config.disableUrl, {});
    if (res.ok) {
      this.applyVersion((res.data && res.data.version) || { enabled });
      toast(enabled ? `Version ${this.config.versionNumber} enabled.` : "Topology disabled.", "success");
    } else {
      toast((res.data && res.data.detail) || `Failed (${res.status}).`, "error");
    }
  }

  async exportXml() {
    if (this.isDirty() && !this.config.readOnly) {
      const saved = await this.save();
      if (!saved.ok) return;
    }
    if (this.config.exportUrl) {
      window.location.assign(this.config.exportUrl);
      return;
    }
    const { xml } = await this.modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = `${this.config.topologyName || "topology"}-v${this.config.versionNumber}.bpmn`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  /** Open XML in the canvas: laid out when it has no diagram, showing the process the runtime runs. */
  async open(xml, { minScale = 0 } = {}) {
    const { xml: shown, laidOut } = await withLayout(xml && xml.trim() ? xml : BLANK_XML);
    // Fit to the first diagram's DI once it is parsed and before it is drawn: a viewbox change after drawing
    // forces a layout of every shape again.
    const fitEarly = ({ definitions }) => fitCapped(this.modeler, minScale, diBounds(definitions && (definitions.diagrams || [])[0]));
    const eventBus = this.modeler.get("eventBus");
    eventBus.once("import.parse.complete", fitEarly);
    let warnings;
    try {
      ({ warnings } = await this.modeler.importXML(shown));
    } finally {
      eventBus.off("import.parse.complete", fitEarly);
    }
    const diagram = diagramFor(this.modeler.getDefinitions(), this.config.processId);
    // The first diagram is shown by default; switch only when another one shows the process that runs.
    if (diagram && diagram.plane !== this.modeler.get("canvas").getRootElement().di) {
      await this.modeler.open(diagram);
      fitCapped(this.modeler, minScale);
    }
    const importWarnings = warnings.map((w) => ({ message: describeWarning(w), element_id: (w.element && w.element.id) || "" }));
    if (laidOut) importWarnings.unshift({ message: "The file had no diagram; Flowyard laid it out automatically." });
    return { importWarnings, laidOut };
  }

  async importFile(file) {
    let result;
    try {
      result = await this.open(await readBpmnFile(file));
    } catch (err) {
      toast(`Cannot import ${file.name}: ${err.message}`, "error");
      return;
    }
    this.showProblems({ importWarnings: result.importWarnings });
    if (result.importWarnings.length) toast(`Imported with ${plural(result.importWarnings.length, "warning")}.`, "warning");
    this.changeSeq += 1;
    const res = await this.save();
    if (res.ok) toast(`Imported ${file.name}.`, "success");
  }

  actions() {
    const modeler = this.modeler;
    return {
      save: () => this.save(),
      undo: () => modeler.get("commandStack").undo(),
      redo: () => modeler.get("commandStack").redo(),
      "zoom-in": () => modeler.get("zoomScroll").stepZoom(1),
      "zoom-out": () => modeler.get("zoomScroll").stepZoom(-1),
      fit: () => fitCapped(modeler),
      minimap: () => {
        const minimap = modeler.get("minimap");
        minimap.toggle();
        $("[data-action=minimap]").classList.toggle("is-active", minimap.isOpen());
      },
      // Deferred: the search pad closes on any document click, including the one that opened it.
      search: () => setTimeout(() => modeler.get("editorActions").trigger("find"), 0),
      publish: () => this.publish(),
      enable: () => this.setEnabled(true),
      disable: () => this.setEnabled(false),
      export: () => this.exportXml(),
      import: () => $("#fy-import-file").click(),
      problems: () => openProblems(!$("#fy-problems").classList.contains("is-open")),
    };
  }
}

function openProblems(open) {
  $("#fy-problems").classList.toggle("is-open", open);
}

/** Toolbar clicks, the import file input, global shortcuts and the unsaved-changes guard. */
function bindUi(root, editor) {
  const actions = editor.actions();
  const readOnly = editor.config.readOnly;
  root.addEventListener("click", (event) => {
    const btn = event.target.closest("[data-action]");
    if (!btn || btn.disabled || !actions[btn.dataset.action]) return;
    event.preventDefault();
    actions[btn.dataset.action]();
  });
  const fileInput = $("#fy-import-file");
  if (fileInput) {
    fileInput.addEventListener("change", () => {
      if (fileInput.files[0]) editor.importFile(fileInput.files[0]);
      fileInput.value = "";
    });
  }
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    const key = event.key.toLowerCase();
    if (key === "s") {
      event.preventDefault();
      if (!readOnly) editor.save();
      return;
    }
    // The canvas handles these itself when focused (and marks them handled); inputs keep native undo.
    if (event.defaultPrevented || readOnly) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (key === "z" && !event.shiftKey) actions.undo();
    else if ((key === "z" && event.shiftKey) || key === "y") actions.redo();
    else if (key === "f") actions.search();
    else return;
    event.preventDefault();
  });
  window.addEventListener("beforeunload", (event) => {
    if (!readOnly && (editor.isDirty() || editor.saving)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}

async function fetchText(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`Loading the diagram failed: ${response.status} ${response.statusText}`);
  return response.text();
}

/** The node registry the page carries (the payload of config.registryUrl, embedded to spare a round trip). */
function pageRegistry(config) {
  const registry = config.registry;
  if (!registry || !Array.isArray(registry.kinds)) throw new Error("The page carries no node kinds.");
  return registry;
}

/** Build the editor while the diagram loads, then open it; resolves to window.flowyardEditor. */
async function load(config, root, api) {
  const xmlPromise = fetchText(config.xmlUrl);
  const installsPromise = getList(config.installsUrl);
  let editor;
  let opened;
  try {
    const registry = pageRegistry(config);
    performance.mark("editor:registry");
    editor = new Editor(config, createModeler(config, registry));
    performance.mark("editor:modeler");
    Object.assign(api, { modeler: editor.modeler, problems: editor.problems, save: () => editor.save(), isDirty: () => editor.isDirty(), lastSerialiseMs: () => editor.lastSerialiseMs ?? null });
    bindUi(root, editor);
    editor.status();
    editor.showProblems({ errors: editor.lastErrors, unsupported: config.unsupported || [] });
    const xml = await xmlPromise;
    performance.mark("editor:xml");
    opened = await editor.open(xml, { minScale: 0.6 });
    performance.mark("editor:imported");
  } catch (err) {
    toast(`The diagram cannot be displayed: ${err.message}`, "error");
    setSaveState("Not loaded", "error");
    throw err;
  }
  editor.showProblems({ errors: editor.lastErrors, unsupported: config.unsupported || [], importWarnings: opened.importWarnings });
  performance.mark("editor:problems");
  if (!config.readOnly) {
    editor.modeler.get("eventBus").on("commandStack.changed", (e) => {
      if (e.trigger !== "clear") editor.onChanged();
    });
  }
  performance.mark("editor:load:end");
  api.lastLoadMs = performance.measure("editor:load", "editor:load:start", "editor:load:end").duration;
  root.classList.add("is-ready");
  setSaveState(config.readOnly ? "Read only" : "All changes saved", config.readOnly ? "" : "ok");
  if (opened.importWarnings.length) openProblems(true);
  // A file without a diagram was laid out here: keep that layout (drafts save it, published versions ask).
  if (opened.laidOut && !config.readOnly) editor.onChanged();
  // Installs load in parallel and must not delay opening the diagram.
  installsPromise.then((installs) => editor.panel.setInstalls(installs));
  return api;
}

function boot() {
  performance.mark("editor:load:start");
  const config = JSON.parse($("#editor-config").textContent);
  config.readOnly = Boolean(config.readOnly);
  const root = $("#fy-editor");
  root.classList.toggle("is-readonly", config.readOnly);
  const api = { config, lastLoadMs: null, ready: null };
  window.flowyardEditor = api;
  renderStatus(config, false);
  if ((config.errors || []).length || (config.unsupported || []).length) openProblems(true);
  api.ready = load(config, root, api);
}

// Boot outside this bundle's top-level function: with DevTools attached (Playwright, the benchmarks) every
// request records its initiator's stack, and a frame in that 600 kB function made V8 recompile all of it
// for source positions on the first fetch (50-100 ms on the open path).
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else queueMicrotask(boot);
