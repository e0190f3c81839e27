// Server validation results on the canvas (red markers + hover overlays) and in the Problems list.

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

export class Problems {
  constructor({ modeler, listEl, countEl, drawerEl }) {
    this.modeler = modeler;
    this.listEl = listEl;
    this.countEl = countEl;
    this.drawerEl = drawerEl;
    this.errors = [];
    this.unsupported = [];
    this.marked = [];
  }

  set({ errors, unsupported }) {
    if (errors) this.errors = errors;
    if (unsupported) this.unsupported = unsupported;
    this.draw();
  }

  clearCanvas() {
    const canvas = this.modeler.get("canvas");
    const overlays = this.modeler.get("overlays");
    overlays.remove({ type: "fy-problem" });
    for (const [id, marker] of this.marked) canvas.removeMarker(id, marker);
    this.marked = [];
  }

  draw() {
    const registry = this.modeler.get("elementRegistry");
    const canvas = this.modeler.get("canvas");
    const overlays = this.modeler.get("overlays");
    this.clearCanvas();
    const byElement = new Map();
    // Root-level problems (the process itself) have no shape to mark; they only go to the list.
    const onCanvas = (id) => {
      const element = id && registry.get(id);
      return Boolean(element && element.parent);
    };
    for (const err of this.errors) {
      if (!onCanvas(err.element_id)) continue;
      const list = byElement.get(err.element_id) || { errors: [], warnings: [] };
      list.errors.push(err.message);
      byElement.set(err.element_id, list);
    }
    for (const w of this.unsupported) {
      if (!onCanvas(w.element_id)) continue;
      const list = byElement.get(w.element_id) || { errors: [], warnings: [] };
      list.warnings.push(w.message);
      byElement.set(w.element_id, list);
    }
    for (const [id, { errors, warnings }] of byElement) {
      const element = registry.get(id);
      const marker = errors.length ? "fy-has-error" : "fy-has-warning";
      canvas.addMarker(id, marker);
      this.marked.push([id, marker]);
      const lines = [...errors.map((m) => `<li class="err">${escapeHtml(m)}</li>`), ...warnings.map((m) => `<li class="warn">${escapeHtml(m)}</li>`)];
      // Top-left corner: the kind badge sits top right (tasks) or above the shape (events, gateways).
      const position = { top: -12, left: -12 };
      overlays.add(id, "fy-problem", {
        position,
        html:
          `<div class="fy-problem-badge ${errors.length ? "is-error" : "is-warning"}" data-element-id="${escapeHtml(id)}">` +
          `<span>${errors.length ? "!" : "?"}</span><ul class="fy-problem-tip">${lines.join("")}</ul></div>`,
      });
    }
    this.renderList();
  }

  renderList() {
    const items = [
      ...this.errors.map((e) => ({ level: "error", id: e.element_id, message: e.message, field: e.field })),
      ...this.unsupported.map((w) => ({ level: "warning", id: w.element_id, message: w.message, name: w.name, type: w.type })),
    ];
    const nErr = this.errors.length;
    const nWarn = this.unsupported.length;
    this.countEl.innerHTML = "";
    this.countEl.append(
      Object.assign(document.createElement("span"), { className: `badge ${nErr ? "badge-err" : "badge-ok"}`, textContent: `${nErr} error${nErr === 1 ? "" : "s"}` }),
    );
    if (nWarn) {
      this.countEl.append(" ", Object.assign(document.createElement("span"), { className: "badge badge-warn", textContent: `${nWarn} warning${nWarn === 1 ? "" : "s"}` }));
    }
    this.listEl.textContent = "";
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "fy-problem-none muted";
      li.textContent = "No problems. The diagram can be published.";
      this.listEl.appendChild(li);
      return;
    }
    const registry = this.modeler.get("elementRegistry");
    for (const item of items) {
      const li = document.createElement("li");
      li.className = `fy-problem fy-problem-${item.level}`;
      li.dataset.elementId = item.id || "";
      const found = item.id && registry.get(item.id);
      const el = found && found.parent ? found : null;
      const isRoot = found && !found.parent;
      const name = el ? el.businessObject.name || item.id : isRoot ? "Diagram" : item.name || item.id || "Diagram";
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
      this.listEl.appendChild(li);
    }
  }

  reveal(id) {
    const element = this.modeler.get("elementRegistry").get(id);
    if (!element) return;
    const canvas = this.modeler.get("canvas");
    this.modeler.get("selection").select(element);
    canvas.scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 120 });
  }
}
