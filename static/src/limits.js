// Limits page: calls per second over the last hour per limit (Chart.js), refreshed every 10 seconds.
import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

const COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad"];

function label(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function datasets(history) {
  const sets = [];
  history.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length];
    sets.push({ label: series.label, data: series.data, borderColor: color, borderWidth: 1.5, pointRadius: 0, tension: 0 });
    sets.push({
      label: `${series.label} limit`,
      data: series.data.map(() => series.limit),
      borderColor: color,
      borderDash: [6, 4],
      borderWidth: 1,
      pointRadius: 0,
    });
  });
  return sets;
}

async function load(canvas, chart) {
  const response = await fetch(canvas.dataset.historyUrl, { headers: { Accept: "application/json" } });
  if (!response.ok) return chart;
  const history = await response.json();
  const labels = history.x.map(label);
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets = datasets(history);
    chart.update("none");
    return chart;
  }
  return new Chart(canvas, {
    type: "line",
    data: { labels, datasets: datasets(history) },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { maxTicksLimit: 7, autoSkip: true } },
        y: { beginAtZero: true, title: { display: true, text: "calls / s" } },
      },
      plugins: { legend: { labels: { filter: (item) => !item.text.endsWith(" limit") } } },
    },
  });
}

const canvas = document.getElementById("limit-chart");
if (canvas) {
  let chart = null;
  const refresh = async () => {
    chart = await load(canvas, chart);
    canvas.dataset.ready = "1";
  };
  refresh();
  setInterval(refresh, 10000);
}
