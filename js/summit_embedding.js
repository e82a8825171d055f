// The class map: fit the 2-D class coordinates (PCA, computed in Python) into a box.

// points: [[x, y] | null] per class -> [{x, y, anchor} | null] in pixels; y grows downwards.
// `anchor` puts the label on the side with room: left of points in the right half.
export function scalePoints(points, width, height, margin = 12) {
  const present = points.filter((point) => Array.isArray(point));
  if (!present.length) return points.map(() => null);
  const xs = present.map((point) => point[0]);
  const ys = present.map((point) => point[1]);
  const [xLow, xHigh] = [Math.min(...xs), Math.max(...xs)];
  const [yLow, yHigh] = [Math.min(...ys), Math.max(...ys)];
  const place = (value, low, high, size) =>
    high > low ? margin + ((value - low) / (high - low)) * (size - 2 * margin) : size / 2;
  return points.map((point) =>
    Array.isArray(point)
      ? labelled(place(point[0], xLow, xHigh, width), height - place(point[1], yLow, yHigh, height), width)
      : null,
  );
}

function labelled(x, y, width) {
  return { x, y, anchor: x > width / 2 ? "end" : "start" };
}
