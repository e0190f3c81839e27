// Tenant dashboard charts: throughput and errors per topology over the last hour or day (uPlot, bundled).
import "uplot/dist/uPlot.min.css";
import uPlot from "uplot";

const PALETTE = ["#3b5bdb", "#2b8a3e", "#e67700", "#862e9c", "#0b7285", "#c2255c", "#5c940d", "#495057"];
const ERROR_PALETTE = ["#c92a2a", "#e67700", "#862e9c", "#c2255c", "#495057"];

function chart(el, data) {
  const series = [{}];
  const columns = [data.times];
  const palette = el.dataset.tone === "err" ? ERROR_PALETTE : PALETTE;
  data.series.forEach((s, i) => {
    series.push({ label: s.label, stroke: palette[i % palette.length], width: 2, points: { show: false } });
    columns.push(s.values);
  });
  const size = () => ({ width: Math.max(260, el.clientWidth), height: el.clientWidth < 500 ? 180 : 220 });
  const plot = new uPlot(
    {
      ...size(),
      series,
      scales: { x: { time: true } },
      axes: [{}, { size: 44, values: (u, ticks) => ticks.map((v) => (v >= 1000 ? `${v / 1000}k` : v)) }],
      legend: { live: false },
    },
    columns,
    el,
  );
  new ResizeObserver(() => plot.setSize(size())).observe(el);
  el.dataset.ready = "true";
}

function boot() {
  for (const el of document.querySelectorAll("[data-chart]")) {
    const source = document.getElementById(el.dataset.chart);
    if (!source) continue;
    const data = JSON.parse(source.textContent);
    if (!data.series.length || el.dataset.ready) continue;
    chart(el, data);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
document.addEventListener("htmx:afterSettle", boot);
