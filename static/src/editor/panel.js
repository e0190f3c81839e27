// Properties panel in plain DOM, a diagram-js service (`flowyardPanel`). It shows exactly the fields the
// node registry gives the selected element's kind; every edit is one command (undoable with Ctrl+Z).
// (bpmn-js-properties-panel would triple the bundle — 1.7 MB vs 0.6 MB minified — for a form.)
import SelectionModule from "diagram-js/lib/features/selection";

import { formatRun, nextRuns } from "./cron";
import { h } from "./dom";
import { KindsModule, getKind } from "./kinds";

const DEBOUNCE_MS = 400;

function describeCron(value) {
  if (!value.trim()) return h("div", { class: "fy-desc muted" }, "e.g. */15 * * * * (every 15 minutes)");
  try {
    const runs = nextRuns(value, 3);
    return h(
      "div",
      { class: "fy-desc", "data-testid": "cron-next" },
      h("div", { class: "muted small" }, "Next runs:"),
      h("ul", { class: "fy-runs" }, ...runs.map((d) => h("li", { class: "mono" }, formatRun(d)))),
    );
  } catch (err) {
    return h("div", { class: "fy-desc fy-desc-err", "data-testid": "cron-next" }, err.message);
  }
}

/** A `flowyard:<name>` attribute as a panel field: how the registry field is read, written and shown. */
function attrField(panel, f) {
  const attr = `flowyard:${f.name}`;
  const field = {
    key: f.name,
    label: f.label,
    type: { integer: "number", list: "text", install: "select", registry: "select", webhook: "readonly" }[f.type] || f.type,
    help: f.help,
    placeholder: f.placeholder,
    min: f.min ?? undefined,
    max: f.max ?? undefined,
    step: f.step || undefined,
    mono: f.mono,
    get: (el) => el.businessObject.get(attr) ?? "",
    set: (el, value, svc) => svc.modeling.updateProperties(el, { [attr]: value === "" ? undefined : value }),
  };
  if (f.check === "cron") field.describe = describeCron;
  if (f.type === "checkbox") {
    // Unset means the field's default; only a value that differs from it is written.
    field.get = (el) => (el.businessObject.get(attr) === undefined ? (f.default ? "true" : "") : el.businessObject.get(attr) === "true" ? "true" : "");
    field.set = (el, value, svc) => {
      const on = value === "true";
      svc.modeling.updateProperties(el, { [attr]: on === Boolean(f.default) ? undefined : String(on) });
    };
  } else if (f.type === "select") {
    field.options = () => f.choices;
  } else if (f.type === "install") {
    field.options = () => [
      { value: "", label: f.required ? "— choose an install —" : "— none —" },
      ...panel.installs.map((i) => ({ value: String(i.id), label: `${i.name} (${i.application})` })),
    ];
  } else if (f.type === "registry") {
    field.options = () => [
      { value: "", label: "— choose a registered node —" },
      ...panel.kinds.python.map((r) => ({ value: r.name, label: r.name, title: r.description })),
    ];
    field.help = (value) => (panel.kinds.python.find((r) => r.name === value) || {}).description || "";
  } else if (f.type === "webhook") {
    field.get = (el) => (panel.page.webhookUrls || {})[el.id] || "";
  }
  return field;
}

/** Condition and default of a flow leaving an exclusive gateway (flows have no kind of their own). */
function routingFields() {
  return [
    {
      key: "condition",
      label: "Condition (JMESPath)",
      type: "textarea",
      help: "The flow is taken when this expression is truthy on the message body. First match wins.",
      placeholder: "status == 'paid'",
      get: (el) => el.businessObject.get("flowyard:condition") ?? "",
      set: (el, value, svc) => svc.modeling.updateProperties(el, { "flowyard:condition": value === "" ? undefined : value }),
    },
    {
      key: "default",
      label: "Default flow (taken when no condition matches)",
      type: "checkbox",
      get: (el) => (el.source.businessObject.default === el.businessObject ? "true" : ""),
      set: (el, value, svc) => svc.modeling.updateProperties(el.source, { default: value ? el.businessObject : undefined }),
    },
  ];
}

function copyButton(value) {
  const copy = () => navigator.clipboard && navigator.clipboard.writeText(value);
  return h("button", { type: "button", class: "btn btn-secondary btn-sm", onclick: copy }, "Copy");
}

const NAME_FIELD = {
  key: "name",
  label: "Name",
  type: "text",
  get: (el) => el.businessObject.name || "",
  set: (el, value, svc) => svc.modeling.updateLabel(el, value || null),
};

export class PropertiesPanel {
  constructor(eventBus, elementRegistry, selection, injector, flowyardKinds, config) {
    this.container = config.panelEl;
    this.page = config.page;
    this.readOnly = Boolean(config.readOnly);
    this.kinds = flowyardKinds;
    this.installs = [];
    this.errors = new Map();
    this.element = null;
    this.inputs = [];
    this.pending = new Map();
    // The viewer (read-only) has no modeling or replace service.
    this.svc = {
      modeling: injector.get("modeling", false),
      bpmnReplace: injector.get("bpmnReplace", false),
      selection,
      elementRegistry,
    };
    eventBus.on("selection.changed", (e) => this.show(e.newSelection.length === 1 ? e.newSelection[0] : null));
    eventBus.on("elements.changed", (e) => this.onElementsChanged(e.elements));
    eventBus.on("import.done", () => this.show(null));
  }

  setInstalls(installs) {
    this.installs = installs || [];
    this.render();
  }

  /** errors: [{element_id, message, field}] from the server. */
  setErrors(errors) {
    this.errors = new Map();
    for (const err of errors || []) {
      const list = this.errors.get(err.element_id) || [];
      list.push(err);
      this.errors.set(err.element_id, list);
    }
    this.render();
  }

  show(element) {
    this.flush();
    this.element = element && element.type !== "label" ? element : element && element.labelTarget;
    this.render();
  }

  onElementsChanged(elements) {
    if (!this.element) return;
    if (!this.svc.elementRegistry.get(this.element.id)) {
      this.element = null;
      this.render();
      return;
    }
    const touched = elements.some((el) => el === this.element || el.labelTarget === this.element || el === this.element.source);
    if (!touched) return;
    if (this.renderedKind !== getKind(this.element) || this.renderedType !== this.element.type) this.render();
    else this.refresh();
  }

  /** Commit edits still waiting for their debounce (before a save, or when the selection changes). */
  flush() {
    for (const [field, run] of this.pending) {
      clearTimeout(run.timer);
      run.commit();
      this.pending.delete(field);
    }
  }

  /** The panel's groups for an element: routing for flows; name, kind, then the kind's registry sections. */
  fieldsFor(element) {
    if (element.waypoints) {
      const groups = [{ title: "Sequence flow", fields: [NAME_FIELD] }];
      if (element.source && element.source.type === "bpmn:ExclusiveGateway") groups.push({ title: "Routing", fields: routingFields() });
      return groups;
    }
    const groups = [{ title: "General", fields: [NAME_FIELD, this.kindField(element)] }];
    const def = this.kinds.of(element);
    for (const section of def ? def.sections : []) {
      const fields = section.fields.map((f) => attrField(this, f));
      if (section.note) fields.push({ key: `${def.kind}-note`, type: "note", text: section.note });
      groups.push({ title: section.title, collapsed: section.collapsed, fields });
    }
    return groups;
  }

  kindField(element) {
    return {
      key: "kind",
      label: "Kind",
      type: "select",
      options: () => [
        { value: "", label: "— choose a kind —" },
        ...this.kinds.groups.flatMap((g) => this.kinds.inGroup(g.id).map((k) => ({ value: k.kind, label: `${g.label}: ${k.label}` }))),
      ],
      get: (el) => getKind(el),
      set: (el, value) => this.changeKind(el, value),
      // Plain BPMN from another tool has no kind yet: suggest the one the server would infer.
      help: (value) => {
        const guess = value ? undefined : this.kinds.guess(element.businessObject);
        return guess ? `Suggested for this element: ${guess.label}.` : "";
      },
    };
  }

  changeKind(element, kind) {
    const { modeling, bpmnReplace, selection } = this.svc;
    if (!kind) {
      modeling.updateProperties(element, { "flowyard:kind": undefined });
      return;
    }
    const def = this.kinds.get(kind);
    const currentDef = (element.businessObject.eventDefinitions || [])[0];
    const currentEventType = currentDef ? currentDef.$type : null;
    let target = element;
    if (!def.accepts.includes(element.type) || def.eventDefinitionType !== currentEventType) {
      const replacement = { type: def.type };
      if (def.eventDefinitionType) replacement.eventDefinitionType = def.eventDefinitionType;
      target = bpmnReplace.replaceElement(element, replacement);
    }
    modeling.updateProperties(target, { "flowyard:kind": kind });
    if (target !== element) selection.select(target);
  }

  render() {
    // A flushed edit fires elements.changed, which may ask for a render while this one runs.
    if (this.rendering) return;
    this.rendering = true;
    try {
      this.flush();
      this.renderNow();
    } finally {
      this.rendering = false;
    }
  }

  renderNow() {
    const el = this.element;
    this.container.textContent = "";
    this.inputs = [];
    this.renderedKind = el ? getKind(el) : null;
    this.renderedType = el ? el.type : null;
    if (!el || el.type === "bpmn:Process" || el.type === "bpmn:Collaboration") {
      this.container.appendChild(this.renderEmpty());
      return;
    }
    this.container.appendChild(this.renderHead(el));
    const errors = this.errors.get(el.id) || [];
    const groups = this.fieldsFor(el);
    const fieldKeys = new Set(groups.flatMap((g) => g.fields.map((f) => f.key)));
    const general = errors.filter((e) => !e.field || !fieldKeys.has(e.field));
    if (general.length) {
      this.container.appendChild(h("div", { class: "fy-panel-errors alert-error", role: "alert" }, ...general.map((e) => h("div", {}, e.message))));
    }
    for (const group of groups) {
      const hasError = group.fields.some((f) => errors.some((e) => e.field === f.key));
      const open = !group.collapsed || hasError || group.fields.some((f) => f.get && f.get(el));
      const section = h("details", { class: "fy-group", open, "data-section": group.title }, h("summary", {}, group.title));
      for (const field of group.fields) section.appendChild(this.renderField(el, field, errors.filter((e) => e.field === field.key)));
      this.container.appendChild(section);
    }
  }

  renderHead(el) {
    const def = this.kinds.of(el);
    const bare = el.type.replace("bpmn:", "");
    const title = el.businessObject.name || (el.waypoints ? "Sequence flow" : def ? def.label : bare);
    const sub = el.waypoints ? "Sequence flow" : def ? def.label : `${bare} — no Flowyard kind`;
    this.titleEl = h("div", { class: "fy-panel-title" }, title);
    const chip = h("span", { class: "fy-kind-chip", style: `background:${def ? def.stroke : "#868e96"}` }, def ? def.badge : el.waypoints ? "→" : "?");
    return h(
      "div",
      { class: "fy-panel-head" },
      chip,
      h("div", { class: "fy-panel-headtext" }, this.titleEl, h("div", { class: "fy-panel-sub" }, sub, " · ", h("span", { class: "mono" }, el.id))),
    );
  }

  renderEmpty() {
    const registry = this.svc.elementRegistry;
    const nodes = registry.filter((e) => this.kinds.of(e) && !e.labelTarget).length;
    const flows = registry.filter((e) => e.type === "bpmn:SequenceFlow").length;
    const total = [...this.errors.values()].reduce((n, l) => n + l.length, 0);
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    return h(
      "div",
      { class: "fy-panel-empty" },
      h("div", { class: "fy-panel-title" }, this.page.topologyName || "Topology"),
      h("div", { class: "fy-panel-sub" }, `Version ${this.page.versionNumber} · ${plural(nodes, "node")} · ${plural(flows, "flow")}`),
      total ? h("p", { class: "error" }, `${plural(total, "problem")} — see the Problems list below.`) : null,
      h("p", { class: "muted" }, this.readOnly ? "Select an element to see its settings." : "Drag a node from the palette, then select it to edit its settings."),
      h(
        "dl",
        { class: "fy-keys" },
        ...[
          ["Ctrl+S", "Save"],
          ["Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"],
          ["Ctrl+F", "Find an element"],
          ["Del", "Delete the selection"],
          ["H / L / S / C", "Hand, lasso, space, connect tools"],
        ].flatMap(([k, v]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, v)]),
      ),
    );
  }

  renderField(el, field, errors) {
    const wrap = h("div", { class: `fy-field${errors.length ? " has-error" : ""}`, "data-field": field.key });
    if (field.type === "note") {
      wrap.appendChild(h("p", { class: "muted small" }, field.text));
      return wrap;
    }
    const value = field.get(el);
    const input = this.renderInput(wrap, field, value);
    const descBox = field.describe ? h("div", { class: "fy-desc-box" }, field.describe(value)) : null;
    if (descBox) wrap.appendChild(descBox);
    const help = typeof field.help === "function" ? field.help(value) : field.help;
    const helpEl = help ? h("small", { class: "help" }, help) : null;
    if (helpEl) wrap.appendChild(helpEl);
    for (const err of errors) wrap.appendChild(h("small", { class: "error" }, err.message));
    if (input && !input.disabled) this.bindInput(field, input, descBox, helpEl);
    this.inputs.push({ field, input, descBox });
    return wrap;
  }

  /** Append the label and the input for one field to `wrap`; returns the input (null when read-only text). */
  renderInput(wrap, field, value) {
    const id = `fy-f-${field.key}`;
    const disabled = this.readOnly || field.type === "readonly";
    if (field.type === "checkbox") {
      const input = h("input", { type: "checkbox", id, name: field.key, disabled: this.readOnly });
      input.checked = value === "true";
      wrap.classList.add("fy-field-check");
      wrap.appendChild(h("label", { for: id }, input, " ", field.label));
      return input;
    }
    wrap.appendChild(h("label", { for: id }, field.label));
    let input;
    if (field.type === "select") {
      input = h("select", { id, name: field.key, disabled });
      const options = field.options();
      if (value && !options.some((o) => o.value === value)) options.push({ value, label: `${value} (not found)` });
      for (const o of options) input.appendChild(h("option", { value: o.value, title: o.title }, o.label));
    } else if (field.type === "textarea") {
      input = h("textarea", { id, name: field.key, rows: 3, placeholder: field.placeholder, disabled, spellcheck: "false" });
    } else if (field.type === "readonly") {
      input = h("input", { type: "text", id, name: field.key, readonly: true, placeholder: field.placeholder, class: "mono" });
      input.value = value;
      wrap.appendChild(value ? h("div", { class: "fy-inline" }, input, copyButton(value)) : input);
      return null;
    } else {
      input = h("input", {
        type: field.type === "number" || field.type === "url" ? field.type : "text",
        id,
        name: field.key,
        placeholder: field.placeholder,
        min: field.min,
        max: field.max,
        step: field.step,
        disabled,
        spellcheck: "false",
        autocomplete: "off",
        class: field.mono ? "mono" : undefined,
      });
    }
    input.value = value;
    return wrap.appendChild(input);
  }

  /** Commit an input's value as one command: selects and checkboxes at once, text after a short pause. */
  bindInput(field, input, descBox, helpEl) {
    const read = () => (field.type === "checkbox" ? (input.checked ? "true" : "") : input.value);
    const commit = () => {
      this.pending.delete(field.key);
      const current = this.element;
      if (!current || !this.svc.elementRegistry.get(current.id)) return;
      const next = ["number", "text", "url"].includes(field.type) ? read().trim() : read();
      if (next !== field.get(current)) field.set(current, next, this.svc);
    };
    const cancelPending = () => clearTimeout((this.pending.get(field.key) || {}).timer);
    if (field.type === "checkbox" || field.type === "select") {
      input.addEventListener("change", commit);
    } else {
      input.addEventListener("input", () => {
        if (descBox) descBox.replaceChildren(field.describe(input.value));
        cancelPending();
        this.pending.set(field.key, { commit, timer: setTimeout(commit, DEBOUNCE_MS) });
      });
      input.addEventListener("change", () => {
        cancelPending();
        commit();
      });
    }
    if (typeof field.help === "function" && helpEl) {
      input.addEventListener("change", () => {
        helpEl.textContent = field.help(input.value);
      });
    }
  }

  /** Sync visible values after a change made elsewhere (undo, label editing), leaving the focused input alone. */
  refresh() {
    const el = this.element;
    if (!el) return;
    if (this.titleEl) this.titleEl.textContent = el.businessObject.name || (this.kinds.of(el) || {}).label || el.id;
    for (const { field, input, descBox } of this.inputs) {
      if (!input || input === document.activeElement || this.pending.has(field.key)) continue;
      const value = field.get(el);
      if (field.type === "checkbox") input.checked = value === "true";
      else input.value = value;
      if (descBox) descBox.replaceChildren(field.describe(value));
    }
  }
}

PropertiesPanel.$inject = ["eventBus", "elementRegistry", "selection", "injector", "flowyardKinds", "config.flowyard"];

export default {
  __depends__: [KindsModule, SelectionModule],
  __init__: ["flowyardPanel"],
  flowyardPanel: ["type", PropertiesPanel],
};
