// Flowyard topology editor: bpmn-js with Flowyard kinds, a properties panel, save / publish /
// enable, validation markers, and window.flowyardEditor for the benchmarks and browser tests.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-codes.css";
import "diagram-js-minimap/assets/diagram-js-minimap.css";
import "./editor.css";

import Modeler from "bpmn-js/lib/Modeler";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import MinimapModule from "diagram-js-minimap";

import { getList, request } from "./editor/api";
import flowyardModdle from "./editor/flowyard-moddle.json";
import { ModelingModule, RenderModule } from "./editor/index";
import { PropertiesPanel } from "./editor/panel";
import { Problems } from "./editor/problems";

const AUTOSAVE_MS = 2000;
const URL_KEYS = [
  "xmlUrl",
  "saveUrl",
  "publishUrl",
  "enableUrl",
  "disableUrl",
  "exportUrl",
  "importUrl",
  "historyUrl",
];

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

function boot() {
  performance.mark("editor:load:start");
  const config = JSON.parse($("#editor-config").textContent);
  const root = $("#fy-editor");
  const readOnly = Boolean(config.readOnly);
  root.classList.toggle("is-readonly", readOnly);

  const xmlPromise = fetch(config.xmlUrl, { credentials: "same-origin" }).then((r) => {
    if (!r.ok) throw new Error(`Loading the diagram failed: ${r.status} ${r.statusText}`);
    return r.text();
  });
  const registryPromise = getList(config.registryUrl);
  const installsPromise = getList(config.installsUrl);

  const common = {
    container: $("#fy-canvas"),
    moddleExtensions: { flowyard: flowyardModdle },
    minimap: { open: false },
  };
  const modeler = readOnly
    ? new NavigatedViewer({ ...common, additionalModules: [RenderModule, MinimapModule] })
    : new Modeler({
        ...common,
        // diagram-js 15 binds keys to the focused canvas (keyboard.bindTo was removed); global
        // shortcuts (Ctrl+S, and undo/redo/find outside the canvas) are handled below.
        keyboard: { bind: true },
        additionalModules: [
          RenderModule,
          ModelingModule,
          MinimapModule,
          { __init__: ["flowyardUniqueNames"], flowyardUniqueNames: ["type", UniqueNames] },
        ],
      });

  const panel = new PropertiesPanel({ container: $("#fy-panel"), modeler, config, readOnly });
  const problems = new Problems({
    modeler,
    listEl: $("[data-fy=problem-list]"),
    countEl: $("[data-fy=problem-count]"),
    drawerEl: $("#fy-problems"),
  });

  // ---- state ----------------------------------------------------------------------------------
  let changeSeq = 0;
  let savedSeq = 0;
  let saving = null;
  let autosaveTimer = null;
  let lastErrors = config.errors || [];
  const isDirty = () => changeSeq !== savedSeq;

  const api = {
    modeler,
    config,
    lastLoadMs: null,
    ready: null,
    save: () => save({ auto: false }),
    problems,
    isDirty,
  };
  window.flowyardEditor = api;

  function toast(message, level = "info") {
    const box = $("#fy-toast");
    const item = document.createElement("div");
    item.className = `fy-toast-item flash flash-${level}`;
    item.setAttribute("role", level === "error" ? "alert" : "status");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(() => item.remove(), level === "error" ? 8000 : 3500);
  }

  function setSaveState(text, level = "") {
    const el = $("[data-fy=save-state]");
    el.textContent = text;
    el.dataset.level = level;
  }

  function renderStatus() {
    $("[data-fy=version]").textContent = `v${config.versionNumber}`;
    const status = $("[data-fy=status]");
    status.textContent = config.versionStatus === "published" ? "Published" : "Draft";
    status.className = `badge badge-${config.versionStatus}`;
    const enabled = $("[data-fy=enabled]");
    enabled.textContent = config.enabled ? "Enabled" : "Disabled";
    enabled.className = `badge ${config.enabled ? "badge-enabled" : ""}`;
    const published = config.versionStatus === "published";
    const publishBtn = $("[data-action=publish]");
    if (publishBtn) {
      publishBtn.disabled = readOnly || (published && !isDirty());
      publishBtn.title = published && !isDirty() ? "This version is published" : "Validate and publish this version";
    }
    const enableBtn = $("[data-action=enable]");
    const disableBtn = $("[data-action=disable]");
    if (enableBtn) {
      enableBtn.hidden = config.enabled;
      enableBtn.disabled = readOnly || !published;
      enableBtn.title = published ? "Start consuming messages with this version" : "Publish the version first";
    }
    if (disableBtn) {
      disableBtn.hidden = !config.enabled;
      disableBtn.disabled = readOnly;
    }
    const history = $("[data-fy=history]");
    if (history && config.historyUrl) history.href = config.historyUrl;
  }

  /** Follow the server to a new version (editing a published version creates a draft). */
  function applyVersion(version, editorUrl) {
    if (!version) return;
    const oldNumber = config.versionNumber;
    if (version.number !== undefined && version.number !== oldNumber) {
      for (const key of URL_KEYS) {
        if (typeof config[key] === "string") {
          config[key] = config[key].replace(`/versions/${oldNumber}/`, `/versions/${version.number}/`);
        }
      }
      config.versionNumber = version.number;
    }
    if (version.status) config.versionStatus = version.status;
    if (version.enabled !== undefined) config.enabled = version.enabled;
    if (editorUrl) {
      const target = new URL(editorUrl, window.location.href);
      if (target.pathname !== window.location.pathname) history.replaceState(null, "", target.pathname + target.search);
    }
    renderStatus();
  }

  function showProblems({ errors, unsupported }) {
    if (errors) lastErrors = errors;
    problems.set({ errors, unsupported });
    panel.setErrors(lastErrors);
  }

  // ---- save -----------------------------------------------------------------------------------
  async function doSave() {
    const seq = changeSeq;
    setSaveState("Saving…", "busy");
    let xml;
    try {
      ({ xml } = await modeler.saveXML({ format: true }));
    } catch (err) {
      setSaveState("Not saved", "error");
      toast(`Cannot serialise the diagram: ${err.message}`, "error");
      return { ok: false, status: 0, data: { detail: err.message } };
    }
    const res = await request("PUT", config.saveUrl, { bpmn_xml: xml });
    if (!res.ok) {
      setSaveState("Not saved", "error");
      const detail = (res.data && res.data.detail) || `Save failed (${res.status})`;
      toast(detail, "error");
      if (res.data && res.data.errors) showProblems({ errors: res.data.errors });
      return res;
    }
    savedSeq = seq;
    applyVersion(res.data.version, res.data.editorUrl);
    showProblems({ errors: res.data.errors || [], unsupported: res.data.unsupported || [] });
    const n = (res.data.errors || []).length;
    if (isDirty()) setSaveState("Unsaved changes", "dirty");
    else setSaveState(n ? `Saved · ${n} problem${n === 1 ? "" : "s"}` : "Saved", n ? "warn" : "ok");
    renderStatus();
    return res;
  }

  async function save({ auto } = {}) {
    if (readOnly) return { ok: false, status: 0, data: { detail: "read-only" } };
    panel.flush();
    clearTimeout(autosaveTimer);
    // One request at a time: a save asked for during another one runs right after it.
    while (saving) await saving;
    if (auto && !isDirty()) return { ok: true, status: 200, data: {} };
    saving = doSave().finally(() => {
      saving = null;
    });
    return saving;
  }

  function onChanged() {
    changeSeq += 1;
    renderStatus();
    if (config.versionStatus === "draft") {
      setSaveState("Unsaved changes", "dirty");
      clearTimeout(autosaveTimer);
      autosaveTimer = setTimeout(() => save({ auto: true }), AUTOSAVE_MS);
    } else {
      setSaveState("Unsaved changes — saving creates a new draft", "dirty");
    }
  }

  // ---- commands -------------------------------------------------------------------------------
  async function publish() {
    if (isDirty() || saving) {
      const saved = await save();
      if (!saved.ok) return;
    }
    const btn = $("[data-action=publish]");
    btn.disabled = true;
    const res = await request("POST", config.publishUrl, {});
    if (res.ok) {
      applyVersion((res.data && res.data.version) || { status: "published" });
      if (res.data && res.data.errors) showProblems({ errors: res.data.errors });
      toast(`Version ${config.versionNumber} published.`, "success");
    } else {
      showProblems({ errors: (res.data && res.data.errors) || lastErrors });
      openProblems(true);
      toast((res.data && res.data.detail) || `Publish refused (${res.status}).`, "error");
    }
    renderStatus();
  }

  async function setEnabled(enabled) {
    const res = await request("POST", enabled ? config.enableUrl : config.disableUrl, {});
    if (res.ok) {
      applyVersion((res.data && res.data.version) || { enabled });
      toast(enabled ? `Version ${config.versionNumber} enabled.` : "Topology disabled.", "success");
    } else {
      toast((res.data && res.data.detail) || `Failed (${res.status}).`, "error");
    }
  }

  async function exportXml() {
    if (isDirty() && !readOnly) {
      const saved = await save();
      if (!saved.ok) return;
    }
    if (config.exportUrl) {
      window.location.assign(config.exportUrl);
      return;
    }
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = `${config.topologyName || "topology"}-v${config.versionNumber}.bpmn`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  async function importFile(file) {
    const text = await file.text();
    try {
      const { warnings } = await modeler.importXML(text);
      fitCapped();
      if (warnings.length) toast(`Imported with ${warnings.length} warning(s).`, "warning");
    } catch (err) {
      toast(`Cannot import ${file.name}: ${err.message}`, "error");
      return;
    }
    changeSeq += 1;
    const res = await save();
    if (res.ok) toast(`Imported ${file.name}.`, "success");
  }

  function openProblems(open) {
    $("#fy-problems").classList.toggle("is-open", open);
  }

  /**
   * Fit the diagram, but never zoom a small diagram beyond 100 %; with `minScale`, a big diagram
   * opens readable at its top-left corner instead of as a thumbnail.
   */
  function fitCapped(minScale = 0) {
    const canvas = modeler.get("canvas");
    const elements = modeler.get("elementRegistry").filter((e) => e.parent);
    if (!elements.length) return;
    canvas.zoom("fit-viewport", "auto");
    const scale = canvas.zoom();
    const { inner, outer } = canvas.viewbox();
    if (scale > 1) {
      canvas.viewbox({
        x: inner.x + inner.width / 2 - outer.width / 2,
        y: inner.y + inner.height / 2 - outer.height / 2,
        width: outer.width,
        height: outer.height,
      });
    } else if (scale < minScale) {
      // Leave room for the palette on the left.
      const margin = 40 / minScale;
      canvas.viewbox({
        x: inner.x - margin - 100 / minScale,
        y: inner.y - margin,
        width: outer.width / minScale,
        height: outer.height / minScale,
      });
    }
  }

  const actions = {
    save: () => save(),
    undo: () => modeler.get("commandStack").undo(),
    redo: () => modeler.get("commandStack").redo(),
    "zoom-in": () => modeler.get("zoomScroll").stepZoom(1),
    "zoom-out": () => modeler.get("zoomScroll").stepZoom(-1),
    fit: () => fitCapped(),
    minimap: () => {
      const minimap = modeler.get("minimap");
      minimap.toggle();
      $("[data-action=minimap]").classList.toggle("is-active", minimap.isOpen());
    },
    // Deferred: the search pad closes on any document click, including the one that opened it.
    search: () => setTimeout(() => modeler.get("editorActions").trigger("find"), 0),
    publish: () => publish(),
    enable: () => setEnabled(true),
    disable: () => setEnabled(false),
    export: () => exportXml(),
    import: () => $("#fy-import-file").click(),
    problems: () => openProblems(!$("#fy-problems").classList.contains("is-open")),
  };

  root.addEventListener("click", (event) => {
    const btn = event.target.closest("[data-action]");
    if (!btn || btn.disabled) return;
    const action = actions[btn.dataset.action];
    if (!action) return;
    event.preventDefault();
    action();
  });
  const fileInput = $("#fy-import-file");
  if (fileInput) {
    fileInput.addEventListener("change", () => {
      if (fileInput.files[0]) importFile(fileInput.files[0]);
      fileInput.value = "";
    });
  }

  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (!mod) return;
    const key = event.key.toLowerCase();
    if (key === "s") {
      event.preventDefault();
      if (!readOnly) save();
      return;
    }
    // The canvas handles these itself when focused (and marks them handled); inputs keep native undo.
    if (event.defaultPrevented || readOnly) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    if (key === "z" && !event.shiftKey) actions.undo();
    else if ((key === "z" && event.shiftKey) || key === "y") actions.redo();
    else if (key === "f") actions.search();
    else return;
    event.preventDefault();
  });

  window.addEventListener("beforeunload", (event) => {
    if (!readOnly && (isDirty() || saving)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // ---- load -----------------------------------------------------------------------------------
  renderStatus();
  problems.set({ errors: lastErrors, unsupported: config.unsupported || [] });
  api.ready = (async () => {
    let xml;
    try {
      xml = await xmlPromise;
    } catch (err) {
      toast(err.message, "error");
      throw err;
    }
    try {
      await modeler.importXML(xml && xml.trim() ? xml : BLANK_XML);
    } catch (err) {
      toast(`The diagram cannot be displayed: ${err.message}`, "error");
      throw err;
    }
    fitCapped(0.6);
    showProblems({ errors: lastErrors, unsupported: config.unsupported || [] });
    if (!readOnly) {
      modeler.get("eventBus").on("commandStack.changed", (e) => {
        if (e.trigger !== "clear") onChanged();
      });
    }
    performance.mark("editor:load:end");
    api.lastLoadMs = performance.measure("editor:load", "editor:load:start", "editor:load:end").duration;
    root.classList.add("is-ready");
    setSaveState(readOnly ? "Read only" : "All changes saved", readOnly ? "" : "ok");
    // Optional lists load in parallel and must not delay opening the diagram.
    Promise.all([registryPromise, installsPromise]).then(([registry, installs]) => panel.setData({ registry, installs }));
    return api;
  })();
  if (lastErrors.length || (config.unsupported || []).length) openProblems(true);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
