import assert from "node:assert/strict";
import { test } from "node:test";
import { chartGeometry } from "../chart.js";

test("chart geometry spans α ∈ [0, 1] across and the shared value range (with 0) up", () => {
  const curves = { alphas: [0.5, 1], path_outputs: [1, 2], partial_sums: [1.5, 2] };
  const geometry = chartGeometry(curves, 110, 60, 5);
  assert.deepEqual(geometry.series.path_outputs, [[55, 30], [105, 5]]);
  assert.deepEqual(geometry.series.partial_sums, [[55, 17.5], [105, 5]]);
  assert.equal(geometry.low, 0);
  assert.equal(geometry.high, 2);
  assert.equal(geometry.zero, 55);
});

test("missing values are skipped and an empty or absent chart draws nothing", () => {
  const geometry = chartGeometry({ alphas: [0, 1], path_outputs: [null, 1], partial_sums: [] }, 100, 50);
  assert.equal(geometry.series.path_outputs.length, 1);
  assert.equal(geometry.series.partial_sums.length, 0);
  assert.equal(chartGeometry(null, 100, 50), null);
  assert.equal(chartGeometry({ alphas: [] }, 100, 50), null);
});
