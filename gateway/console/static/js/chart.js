// Daily series as a uPlot line chart (vendor/uPlot.iife.min.js defines the global uPlot).

const COLOURS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea"];

export function dailyChart(target, days, series, { title, money = false } = {}) {
  const xs = days.map(day => Date.parse(day + "T00:00:00Z") / 1000);
  const width = Math.max(320, Math.min(target.clientWidth || 640, 900));
  const options = {
    title, width, height: 240,
    scales: { x: { time: true } },
    series: [
      { label: "day", value: (u, v) => v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10) },
      ...series.map((s, i) => ({
        label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2,
        value: (u, v) => v == null ? "" : money ? "$" + v.toFixed(4) : String(v),
      })),
    ],
    axes: [{}, { values: (u, ticks) => ticks.map(v => money ? "$" + v.toFixed(2) : String(v)), size: 72 }],
  };
  if (typeof window.uPlot !== "function") {
    target.textContent = "(the chart library did not load)";
    return null;
  }
  return new window.uPlot(options, [xs, ...series.map(s => s.values)], target);
}
