import assert from "node:assert/strict";
import { test } from "node:test";
import { composite, gainOf, interpolate, normalise, percentile, resample, rgbToRgba, zoomFor } from "../compose.js";

const close = (actual, expected, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test("percentile of |values| interpolates linearly between ranks like numpy.percentile", () => {
  const values = new Float32Array([-4, 1, 3, -2]); // |v| sorted: 1 2 3 4
  close(percentile(values, 0), 1);
  close(percentile(values, 100), 4);
  close(percentile(values, 50), 2.5); // rank 1.5
  close(percentile(values, 90), 3.7); // rank 2.7
  assert.equal(percentile(new Float32Array(0), 50), 0);
});

test("normalise clips magnitudes at the percentile (absolute) or maps [-s, s] to [0, 1] (signed)", () => {
  const values = new Float32Array([-1, -0.25, 0, 0.5]);
  const absolute = normalise(values, { clip: 100, signed: false });
  close(absolute.level, 1);
  assert.deepEqual(Array.from(absolute.unit), [1, 0.25, 0, 0.5]);
  const clipped = normalise(values, { clip: 50, signed: false }); // level = 0.375
  close(clipped.level, 0.375);
  close(clipped.unit[0], 1);
  close(clipped.unit[1], 0.25 / 0.375);
  const signed = normalise(values, { clip: 100, signed: true });
  assert.deepEqual(Array.from(signed.unit), [0, 0.375, 0.5, 0.75]);
});

test("normalise keeps an all-zero map at zero instead of dividing by zero", () => {
  const { unit, level } = normalise(new Float32Array(4), { clip: 99.5 });
  assert.equal(level, 1);
  assert.deepEqual(Array.from(unit), [0, 0, 0, 0]);
});

test("composite blends (1 − opacity)·image + opacity·heat per channel and stays opaque", () => {
  const image = new Uint8Array([100, 0, 200]);
  const heat = new Uint8ClampedArray([200, 100, 0, 255]);
  assert.deepEqual(Array.from(composite(image, heat, 0)), [100, 0, 200, 255]);
  assert.deepEqual(Array.from(composite(image, heat, 1)), [200, 100, 0, 255]);
  assert.deepEqual(Array.from(composite(image, heat, 0.25)), [125, 25, 150, 255]);
  assert.deepEqual(Array.from(composite(image, heat, 3)), [200, 100, 0, 255]); // opacity clamped to [0, 1]
  assert.throws(() => composite(new Uint8Array(6), heat, 0.5), RangeError);
});

test("interpolate gives x′ at α = 0, x at α = 1 and the straight line between", () => {
  const image = new Uint8Array([200, 100, 0]);
  const baseline = new Uint8Array([0, 100, 200]);
  assert.deepEqual(Array.from(interpolate(image, baseline, 0)), [0, 100, 200, 255]);
  assert.deepEqual(Array.from(interpolate(image, baseline, 1)), [200, 100, 0, 255]);
  assert.deepEqual(Array.from(interpolate(image, baseline, 0.25)), [50, 100, 150, 255]);
});

test("rgbToRgba adds an opaque alpha channel", () => {
  assert.deepEqual(Array.from(rgbToRgba(new Uint8Array([1, 2, 3, 4, 5, 6]))), [1, 2, 3, 255, 4, 5, 6, 255]);
});

test("resample repeats each cell of a coarse map over the pixels it covers (nearest neighbour)", () => {
  const coarse = new Float32Array([1, 2, 3, 4]); // 2×2
  assert.deepEqual(Array.from(resample(coarse, 2, 2, 4, 4)), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.equal(resample(coarse, 2, 2, 2, 2), coarse);
});

test("zoomFor picks an integer zoom so a 64×64 input is enlarged crisply", () => {
  assert.equal(zoomFor(64, 64, 320), 5);
  assert.equal(zoomFor(224, 224, 320), 1);
  assert.equal(zoomFor(1000, 10, 320), 1);
});

test("a partial map drawn against the whole one is dimmed by its gain, and the colour bar top follows", () => {
  const values = new Float32Array([-1, -0.25, 0, 0.5]);
  const half = normalise(values, { clip: 100, signed: false, gain: 0.5 });
  assert.deepEqual(Array.from(half.unit), [0.5, 0.125, 0, 0.25]);
  close(half.level, 2);
  const signed = normalise(values, { clip: 100, signed: true, gain: 0.5 });
  assert.deepEqual(Array.from(signed.unit), [0.25, 0.4375, 0.5, 0.625]);
  assert.deepEqual(Array.from(normalise(values, { clip: 100, gain: 3 }).unit), [1, 0.25, 0, 0.5]); // never brighter
});

test("the gain is the frame's scale over the whole map's scale, 1 without a reference", () => {
  close(gainOf({ scale: 0.2, reference: 0.8 }), 0.25);
  assert.equal(gainOf({ scale: 1.2, reference: 0.8 }), 1);
  assert.equal(gainOf({ scale: 0.2, reference: null }), 1);
  assert.equal(gainOf({}), 1);
  assert.equal(gainOf(undefined), 1);
});
