// Limits page: calls per second over the last hour per limit, the limit as a dashed line (uPlot, bundled),
// refreshed every 10 seconds from the history endpoint.
import "uplot/dist/uPlot.min.css";
import uPlot from "uplot";

const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad"];

function build(history) {
  const series = [{}];
  const columns = [history.x];
  history.series.forEach((s, i) => {
    const stroke = PALETTE[i % PALETTE.length];
    series.push({ label: s.label, stroke, width: 1.5, points: { show: false } });
    columns.push(s.data);
    series.push({ label: `${s.label} limit`, stroke, width: 1, dash: [6, 4], points: { show: false } });
    columns.push(s.data.map(() => s.limit));
  });
  return { series, columns };
}

async function fetchHistory(el) {
  const response = await fetch(el.dataset.historyUrl, { headers: { Accept: "application/json" } });
  return response.ok ? response.json() : null;
}

async function boot() {
  const el = document.getElementById("limit-chart");
  if (!el || el.dataset.ready) return;
  const history = await fetchHistory(el);
  if (!history) return;
  const size = () => ({ width: Math.max(260, el.clientWidth), height: el.clientWidth < 500 ? 180 : 240 });
  let { series, columns } = build(history);
  let plot = new uPlot(
    {
      ...size(),
      series,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { size: 44, label: "calls / s" }],
      legend: { live: false },
    },
    columns,
    el,
  );
  new ResizeObserver(() => plot.setSize(size())).observe(el);
  el.dataset.ready = "1";
  setInterval(async () => {
    const next = await fetchHistory(el);
    if (!next) return;
    const built = build(next);
    if (built.series.length !== series.length) {
      plot.destroy();
      ({ series, columns } = built);
      plot = new uPlot({ ...size(), series, scales: { x: { time: true } }, legend: { live: false } }, columns, el);
    } else {
      plot.setData(built.columns);
    }
  }, 10000);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
