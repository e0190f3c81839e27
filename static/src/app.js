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
