// Shared behaviour for every page: htmx, live sockets, local and relative times, the collapsing navigation.
import "./app.css";
import htmx from "htmx.org";
import { keepCheckedAcrossSwaps, startLiveSockets } from "./live.js";
import { startClock } from "./times.js";

window.htmx = htmx;

document.addEventListener("click", (event) => {
  // Close open menus when clicking elsewhere.
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
  const confirmEl = event.target.closest("[data-confirm]");
  if (confirmEl && !window.confirm(confirmEl.dataset.confirm)) event.preventDefault();
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    const open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
  }
});

// Copy buttons: <button data-copy="#id">
document.addEventListener("click", async (event) => {
  const btn = event.target.closest("[data-copy]");
  if (!btn) return;
  const source = document.querySelector(btn.dataset.copy);
  if (source && navigator.clipboard) {
    await navigator.clipboard.writeText(source.textContent.trim());
    btn.textContent = "Copied";
  }
});

// Select-all boxes: <input type=checkbox data-select-all="name"> toggles every box named `name`; elements with
// data-selection-count="name" show how many are checked, and [data-needs-selection="name"] buttons stay
// disabled until one is.
function refreshSelection() {
  for (const counter of document.querySelectorAll("[data-selection-count]")) {
    const n = document.querySelectorAll(`input[name="${counter.dataset.selectionCount}"]:checked`).length;
    counter.textContent = n ? `${n} selected` : "";
  }
  for (const btn of document.querySelectorAll("[data-needs-selection]")) {
    btn.disabled = !document.querySelector(`input[name="${btn.dataset.needsSelection}"]:checked`);
  }
}
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (all) {
    for (const box of document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) box.checked = all.checked;
  }
  refreshSelection();
});

document.addEventListener("DOMContentLoaded", () => {
  startClock();
  startLiveSockets();
  keepCheckedAcrossSwaps();
  refreshSelection();
  document.body.addEventListener("htmx:afterSettle", refreshSelection);
});

// Install forms: show only the fields that apply to the chosen option (e.g. the auth type); the server ignores
// the others.
function syncInstallFields(form) {
  for (const input of form.querySelectorAll("[data-when-field]")) {
    const other = form.querySelector(`[name="${input.dataset.whenField}"]`);
    const show = !other || input.dataset.whenValues.split(" ").includes(other.value);
    input.closest(".install-field").hidden = !show;
  }
}
const installForm = document.querySelector('[data-testid="install-form"]');
if (installForm) {
  installForm.addEventListener("change", () => syncInstallFields(installForm));
  syncInstallFields(installForm);
}

// JSON payload fields (<textarea data-json-editor>): validate as the user types so a broken payload is caught
// before the round trip (the server checks too).
for (const area of document.querySelectorAll("textarea[data-json-editor]")) {
  const help = document.getElementById(`${area.id}-help`);
  const hint = help ? help.textContent : "";
  area.addEventListener("input", () => {
    try {
      if (area.value.trim()) JSON.parse(area.value);
      area.parentNode.classList.remove("has-error");
      if (help) help.textContent = hint;
    } catch (error) {
      area.parentNode.classList.add("has-error");
      if (help) help.textContent = `Invalid JSON: ${error.message}`;
    }
  });
}
