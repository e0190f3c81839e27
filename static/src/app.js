// Shared behaviour for every page: htmx, and small progressive enhancements.
import "./app.css";
import htmx from "htmx.org";

window.htmx = htmx;

document.addEventListener("click", (event) => {
  // Close open menus when clicking elsewhere.
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
  const confirmEl = event.target.closest("[data-confirm]");
  if (confirmEl && !window.confirm(confirmEl.dataset.confirm)) event.preventDefault();
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
