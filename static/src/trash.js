// Trash workbench: the JSON body editor with live validation (JSON and the node's input schema), the headers
// table, a read-only diagram with the failed node highlighted, and the bulk action form.
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "./trash.css";

import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { createAjvValidator, createJSONEditor, isContentParseError } from "vanilla-jsoneditor";

function config() {
  const el = document.getElementById("trash-config");
  return el ? JSON.parse(el.textContent) : null;
}

function jsonPath(path) {
  return "$" + path.map((p) => (typeof p === "number" || /^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("");
}

function setValid(form, valid) {
  for (const btn of form.querySelectorAll("[data-needs-valid]")) {
    if (btn.dataset.testid === "resend" && btn.dataset.targetError) continue;
    btn.disabled = !valid;
  }
}

function showProblems(box, problems) {
  box.replaceChildren();
  if (!problems.length) return;
  const list = document.createElement("ul");
  list.className = "trash-errors";
  for (const p of problems) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = p.path;
    li.append(code, " ", p.message);
    list.append(li);
  }
  box.append(list);
}

function bodyEditor(cfg) {
  const host = document.querySelector("[data-json-editor]");
  const input = document.querySelector("[data-body-input]");
  const form = document.getElementById("trash-form");
  const box = document.querySelector("[data-validation]");
  if (!host || !input || !form) return;
  input.hidden = true;
  const validator = cfg.schema ? createAjvValidator({ schema: cfg.schema }) : undefined;
  const check = (contentErrors) => {
    const problems = [];
    if (contentErrors && isContentParseError(contentErrors)) {
      problems.push({ path: "$", message: `Invalid JSON: ${contentErrors.parseError.message}` });
    } else if (contentErrors && contentErrors.validationErrors) {
      for (const e of contentErrors.validationErrors) problems.push({ path: jsonPath(e.path), message: e.message });
    }
    showProblems(box, problems);
    setValid(form, problems.length === 0);
  };
  const editor = createJSONEditor({
    target: host,
    props: {
      content: { text: input.value },
      mode: "text",
      mainMenuBar: false,
      statusBar: true,
      readOnly: host.dataset.readonly === "1",
      validator,
      onChange: (content, _previous, { contentErrors }) => {
        input.value = content.text !== undefined ? content.text : JSON.stringify(content.json, null, 2);
        check(contentErrors);
      },
    },
  });
  window.flowyardTrashEditor = editor;
  // Validate what the page loaded with (a refused save shows the operator's text again).
  check(editor.validate());
}

function headerRows() {
  const rows = document.querySelector("[data-header-rows]");
  const add = document.querySelector("[data-add-header]");
  if (!rows) return;
  rows.addEventListener("click", (event) => {
    const btn = event.target.closest("[data-remove-header]");
    if (btn) btn.closest("tr").remove();
  });
  if (add) {
    add.addEventListener("click", () => {
      const tr = document.createElement("tr");
      tr.innerHTML =
        '<td><input type="text" name="header_name" aria-label="Header name"></td>' +
        '<td><input type="text" name="header_value" aria-label="Header value"></td>' +
        '<td><button type="button" class="btn btn-ghost btn-sm" data-remove-header aria-label="Remove">✕</button></td>';
      rows.append(tr);
      tr.querySelector("input").focus();
    });
  }
}

async function diagram(cfg) {
  const host = document.querySelector("[data-diagram]");
  if (!host || !cfg.bpmnXml) return;
  const viewer = new NavigatedViewer({ container: host });
  try {
    await viewer.importXML(cfg.bpmnXml);
    const canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport");
    const registry = viewer.get("elementRegistry");
    if (registry.get(cfg.node)) {
      canvas.addMarker(cfg.node, "trash-failed-node");
      host.dataset.highlighted = cfg.node;
    }
  } catch (err) {
    host.textContent = "The diagram cannot be shown.";
  }
}

function bulkForms() {
  for (const fields of document.querySelectorAll("[data-bulk-fields]")) {
    const action = fields.querySelector("[data-bulk-action]");
    const sync = () => {
      for (const el of fields.querySelectorAll("[data-show-for]")) el.hidden = el.dataset.showFor !== action.value;
    };
    action.addEventListener("change", sync);
    sync();
  }
  const all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="ids"]')) box.checked = all.checked;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const cfg = config();
  if (cfg) {
    const resend = document.querySelector('[data-testid="resend"]');
    if (resend && resend.disabled) resend.dataset.targetError = "1";
    bodyEditor(cfg);
    headerRows();
    diagram(cfg);
  }
  bulkForms();
});
