// IG's path chart: F(x′ + α(x − x′)) − F(x′) and Σ partial attributions over α.
// `chartGeometry` is pure (numbers in, pixel points out); `drawChart` paints it.

export const SERIES = [
  { key: "path_outputs", label: "F(x′+α(x−x′)) − F(x′)", color: "#1f77b4", dash: [] },
  { key: "partial_sums", label: "Σ partial attributions", color: "#d62728", dash: [4, 3] },
];

/** Points of each series in pixels, α ∈ [0, 1] across, a shared value range up. */
export function chartGeometry(curves, width, height, pad = 6) {
  if (!curves || !Array.isArray(curves.alphas) || curves.alphas.length === 0) return null;
  const values = [0];
  for (const { key } of SERIES) for (const v of curves[key] ?? []) if (Number.isFinite(v)) values.push(v);
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < 1e-12) { low -= 1; high += 1; }
  const x = (alpha) => pad + alpha * (width - 2 * pad);
  const y = (value) => height - pad - ((value - low) / (high - low)) * (height - 2 * pad);
  const series = {};
  for (const { key } of SERIES) {
    const points = [];
    (curves[key] ?? []).forEach((value, i) => {
      if (Number.isFinite(value) && Number.isFinite(curves.alphas[i])) points.push([x(curves.alphas[i]), y(value)]);
    });
    series[key] = points;
  }
  return { series, low, high, zero: y(0), x, y };
}

/** Draw the chart (axes at 0, both curves, a marker at the current α) on a 2-D context. */
export function drawChart(context, curves, alpha, { width, height, foreground = "#666" }) {
  context.clearRect(0, 0, width, height);
  const geometry = chartGeometry(curves, width, height);
  if (!geometry) return;
  context.lineWidth = 1;
  context.strokeStyle = foreground;
  context.setLineDash([]);
  context.beginPath();
  context.moveTo(geometry.x(0), geometry.zero);
  context.lineTo(geometry.x(1), geometry.zero);
  context.stroke();
  context.setLineDash([2, 2]);
  context.beginPath();
  context.moveTo(geometry.x(alpha), 0);
  context.lineTo(geometry.x(alpha), height);
  context.stroke();
  for (const { key, color, dash } of SERIES) {
    const points = geometry.series[key];
    if (points.length === 0) continue;
    context.strokeStyle = color;
    context.fillStyle = color;
    context.lineWidth = 1.5;
    context.setLineDash(dash);
    context.beginPath();
    points.forEach(([px, py], i) => (i === 0 ? context.moveTo(px, py) : context.lineTo(px, py)));
    context.stroke();
    if (points.length === 1) context.fillRect(points[0][0] - 1.5, points[0][1] - 1.5, 3, 3);
  }
  context.setLineDash([]);
}
