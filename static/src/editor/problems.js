// Problems, a diagram-js service (`flowyardProblems`): server validation results and import warnings on
// the canvas (red markers + hover overlays) and in the Problems list.
import OverlaysModule from "diagram-js/lib/features/overlays";
import SelectionModule from "diagram-js/lib/features/selection";

import { escapeHtml } from "./dom";

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

export class Problems {
  constructor(canvas, overlays, elementRegistry, selection, config) {
    Object.assign(this, { canvas, overlays, elementRegistry, selection });
    this.listEl = config.problemListEl;
    this.countEl = config.problemCountEl;
    this.errors = [];
    this.unsupported = [];
    this.importWarnings = [];
    this.marked = [];
  }

  /** errors / unsupported from the server; importWarnings: what bpmn-js could not read ({message}). */
  set({ errors, unsupported, importWarnings }) {
    if (errors) this.errors = errors;
    if (unsupported) this.unsupported = unsupported;
    if (importWarnings) this.importWarnings = importWarnings;
    this.draw();
  }

  /** Problems that show in the list, in order: errors, unsupported elements, import warnings. */
  items() {
    return [
      ...this.errors.map((e) => ({ level: "error", id: e.element_id, message: e.message })),
      ...this.unsupported.map((w) => ({ level: "warning", id: w.element_id, message: w.message, name: w.name })),
      ...this.importWarnings.map((w) => ({ level: "warning", id: w.element_id || "", message: w.message, name: "Import" })),
    ];
  }

  clearCanvas() {
    this.overlays.remove({ type: "fy-problem" });
    for (const [id, marker] of this.marked) this.canvas.removeMarker(id, marker);
    this.marked = [];
  }

  /** The shape of a problem's element, or null for root-level problems (the process) and unknown ids. */
  shape(id) {
    const element = id && this.elementRegistry.get(id);
    return element && element.parent ? element : null;
  }

  draw() {
    this.clearCanvas();
    const byElement = new Map();
    for (const item of this.items()) {
      if (!this.shape(item.id)) continue;
      const entry = byElement.get(item.id) || { errors: [], warnings: [] };
      entry[item.level === "error" ? "errors" : "warnings"].push(item.message);
      byElement.set(item.id, entry);
    }
    for (const [id, { errors, warnings }] of byElement) this.mark(id, errors, warnings);
    this.renderList();
  }

  mark(id, errors, warnings) {
    const marker = errors.length ? "fy-has-error" : "fy-has-warning";
    this.canvas.addMarker(id, marker);
    this.marked.push([id, marker]);
    const lines = [...errors.map((m) => `<li class="err">${escapeHtml(m)}</li>`), ...warnings.map((m) => `<li class="warn">${escapeHtml(m)}</li>`)];
    // Top-left corner: the kind badge sits top right (tasks) or above the shape (events, gateways).
    this.overlays.add(id, "fy-problem", {
      position: { top: -12, left: -12 },
      html:
        `<div class="fy-problem-badge ${errors.length ? "is-error" : "is-warning"}" data-element-id="${escapeHtml(id)}">` +
        `<span>${errors.length ? "!" : "?"}</span><ul class="fy-problem-tip">${lines.join("")}</ul></div>`,
    });
  }

  renderCount(nErr, nWarn) {
    const badge = (className, text) => Object.assign(document.createElement("span"), { className, textContent: text });
    this.countEl.replaceChildren(badge(`badge ${nErr ? "badge-err" : "badge-ok"}`, plural(nErr, "error")));
    if (nWarn) this.countEl.append(" ", badge("badge badge-warn", plural(nWarn, "warning")));
  }

  renderList() {
    const items = this.items();
    const nErr = items.filter((i) => i.level === "error").length;
    this.renderCount(nErr, items.length - nErr);
    this.listEl.textContent = "";
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "fy-problem-none muted";
      li.textContent = "No problems. The diagram can be published.";
      this.listEl.appendChild(li);
      return;
    }
    for (const item of items) this.listEl.appendChild(this.renderItem(item));
  }

  renderItem(item) {
    const li = document.createElement("li");
    li.className = `fy-problem fy-problem-${item.level}`;
    li.dataset.elementId = item.id || "";
    const found = item.id && this.elementRegistry.get(item.id);
    const el = this.shape(item.id);
    const name = el ? el.businessObject.name || item.id : found ? "Diagram" : item.name || item.id || "Diagram";
    li.innerHTML =
      `<span class="fy-problem-icon">${item.level === "error" ? "●" : "▲"}</span>` +
      `<span class="fy-problem-el">${escapeHtml(name)}</span>` +
      `<span class="fy-problem-msg">${escapeHtml(item.message)}</span>`;
    if (el) {
      li.tabIndex = 0;
      li.classList.add("is-link");
      const go = () => this.reveal(item.id);
      li.addEventListener("click", go);
      li.addEventListener("keydown", (e) => e.key === "Enter" && go());
    }
    return li;
  }

  reveal(id) {
    const element = this.elementRegistry.get(id);
    if (!element) return;
    this.selection.select(element);
    this.canvas.scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 120 });
  }
}

Problems.$inject = ["canvas", "overlays", "elementRegistry", "selection", "config.flowyard"];

export default {
  __depends__: [OverlaysModule, SelectionModule],
  __init__: ["flowyardProblems"],
  flowyardProblems: ["type", Problems],
};
