/* The risk index chart (Chart.js, loaded as a classic script before the modules run). */
import { DAY, HOUR, dateTime, dayFormat, hourFormat, labelOf, numberFormat } from './ui.js';

const PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d', '#9333ea', '#0d9488'];

function timeTicks(min, max) {
  const span = max - min;
  const step = span <= 2 * DAY ? 6 * HOUR : span <= 10 * DAY ? DAY : span <= 40 * DAY ? 7 * DAY : 14 * DAY;
  const start = new Date(min);
  if (step < DAY) start.setHours(Math.ceil(start.getHours() / 6) * 6, 0, 0, 0);
  else start.setHours(24, 0, 0, 0);
  const ticks = [];
  // Whole days are added on the calendar, so a DST change does not shift the ticks off midnight.
  for (const t = start; t.getTime() <= max; step < DAY ? t.setTime(t.getTime() + step) : t.setDate(t.getDate() + step / DAY)) ticks.push(t.getTime());
  return ticks;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Draws (or redraws in place) one line per material and the dashed threshold; returns the Chart instance. */
export function drawChart(chart, canvas, series, threshold, sinceMs) {
  const now = Date.now();
  const span = now - sinceMs;
  const datasets = series.map((s, i) => ({
    label: labelOf(s.material),
    data: s.points.map((p) => ({ x: Date.parse(p.at), y: p.value })),
    borderColor: PALETTE[i % PALETTE.length],
    backgroundColor: PALETTE[i % PALETTE.length] + '22',
    fill: series.length === 1 ? 'origin' : false,
    borderWidth: 2,
    pointRadius: 0,
    pointHoverRadius: 4,
    tension: 0.25,
  }));
  datasets.push({
    label: `Alert threshold (${numberFormat.format(threshold)})`,
    data: [{ x: sinceMs, y: threshold }, { x: now, y: threshold }],
    borderColor: cssVar('--bad'),
    borderDash: [6, 5],
    borderWidth: 1.5,
    pointRadius: 0,
    pointHoverRadius: 0,
    fill: false,
  });
  const grid = cssVar('--border');
  const text = cssVar('--muted');
  const options = {
    responsive: true,
    maintainAspectRatio: false,
    // No animation: refreshes every 30 s would replay it, and a screenshot could catch it half-way.
    animation: false,
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: {
      x: {
        type: 'linear',
        min: sinceMs,
        max: now,
        grid: { color: grid, drawTicks: false },
        border: { display: false },
        ticks: { color: text, padding: 8, callback: (value) => (span <= 2 * DAY ? hourFormat : dayFormat).format(new Date(value)) },
        // Ticks on local midnights (or whole hours for short spans), not wherever a linear scale would put them.
        afterBuildTicks: (axis) => {
          axis.ticks = timeTicks(axis.min, axis.max).map((value) => ({ value }));
        },
      },
      y: {
        beginAtZero: true,
        suggestedMax: threshold * 1.15,
        grid: { color: grid, drawTicks: false },
        border: { display: false },
        ticks: { color: text, padding: 8, maxTicksLimit: 6 },
      },
    },
    plugins: {
      legend: { position: 'top', align: 'start', labels: { color: text, usePointStyle: true, pointStyle: 'line', boxWidth: 24, padding: 16 } },
      tooltip: {
        callbacks: {
          title: (items) => (items.length ? dateTime.format(new Date(items[0].parsed.x)) : ''),
          label: (item) => ` ${item.dataset.label}: ${numberFormat.format(item.parsed.y)}`,
        },
        filter: (item) => !String(item.dataset.label).startsWith('Alert threshold'),
      },
    },
  };
  if (!chart) return new window.Chart(canvas, { type: 'line', data: { datasets }, options });
  chart.data.datasets = datasets;
  chart.options = options;
  chart.update();
  return chart;
}
