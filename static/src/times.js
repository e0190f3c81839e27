// Times: the server renders UTC into <time datetime="…">; the browser shows local time with its zone
// (data-local) or "just now" / "3 min ago" that keeps counting (data-relative), with the exact local time as
// the tooltip. No microseconds on screen.

// Built on first use: the first Intl formatter of a page loads locale data (~20 ms in a fresh renderer, on the
// critical path of every page that loads app.js), and most pages show no time at all.
let formats = null;

function formatters() {
  formats = formats || {
    absolute: new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    }),
    timeOnly: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    relative: new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }),
  };
  return formats;
}

export function formatLocal(date) {
  return formatters().absolute.format(date);
}

export function formatRelative(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return "just now";
  const { relative } = formatters();
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 86400 * 30) return relative.format(Math.round(seconds / 86400), "day");
  return formatLocal(date);
}

function parse(el) {
  const date = new Date(el.getAttribute("datetime"));
  return Number.isNaN(date.getTime()) ? null : date;
}

export function renderTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("time[datetime]")) {
    const date = parse(el);
    if (!date) continue;
    if (el.hasAttribute("data-relative")) {
      el.textContent = formatRelative(date, now);
      el.title = formatLocal(date);
    } else if (el.hasAttribute("data-local")) {
      el.textContent = el.dataset.local === "time" ? formatters().timeOnly.format(date) : formatLocal(date);
      el.title = date.toISOString();
    }
  }
}

export function startClock() {
  renderTimes();
  window.setInterval(() => renderTimes(), 5000);
  document.body.addEventListener("htmx:afterSettle", (event) => renderTimes(event.detail.elt || document));
}
