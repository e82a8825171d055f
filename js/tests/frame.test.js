import assert from "node:assert/strict";
import { test } from "node:test";
import { asDataView, decodeFrame, halfToFloat } from "../frame.js";

function float16Bytes(bitsList) {
  const view = new DataView(new ArrayBuffer(2 * bitsList.length));
  bitsList.forEach((bits, i) => view.setUint16(2 * i, bits, true));
  return view;
}

test("halfToFloat decodes normal, subnormal, signed and special half-precision values", () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xbc00), -1);
  assert.equal(halfToFloat(0x3800), 0.5);
  assert.equal(halfToFloat(0x3555), 0.333251953125); // nearest half to 1/3
  assert.equal(halfToFloat(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(halfToFloat(0x7bff), 65504); // largest finite
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.equal(Object.is(halfToFloat(0x8000), -0), true);
});

test("a float16 frame decodes row by row into H·W floats", () => {
  const frame = decodeFrame(float16Bytes([0x3c00, 0x0000, 0xb800, 0x3400, 0x3a00, 0xbc00]), { height: 2, width: 3, dtype: "float16" });
  assert.equal(frame.height, 2);
  assert.equal(frame.width, 3);
  assert.deepEqual(Array.from(frame.values), [1, 0, -0.5, 0.25, 0.75, -1]);
});

test("a uint8 frame maps 0 → −1, 255 → +1 (the inverse of round((m + 1)·127.5))", () => {
  const frame = decodeFrame(new Uint8Array([0, 255, 128, 64]), { height: 2, width: 2, dtype: "uint8" });
  const expected = [-1, 1, 128 / 127.5 - 1, 64 / 127.5 - 1];
  Array.from(frame.values).forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-6));
});

test("a frame of the wrong length or dtype is refused, non-finite values become 0", () => {
  assert.throws(() => decodeFrame(float16Bytes([0, 0, 0]), { height: 2, width: 2, dtype: "float16" }), RangeError);
  assert.throws(() => decodeFrame(new Uint8Array(4), { height: 2, width: 2, dtype: "float64" }), RangeError);
  const frame = decodeFrame(float16Bytes([0x7c00, 0x7e00]), { height: 1, width: 2, dtype: "float16" });
  assert.deepEqual(Array.from(frame.values), [0, 0]);
  assert.equal(decodeFrame(new Uint8Array(0), {}), null);
});

test("asDataView accepts a DataView, an ArrayBuffer and a typed-array slice without copying", () => {
  const buffer = new ArrayBuffer(8);
  const slice = new Uint8Array(buffer, 2, 4);
  const view = asDataView(slice);
  assert.equal(view.byteOffset, 2);
  assert.equal(view.byteLength, 4);
  assert.equal(asDataView(buffer).byteLength, 8);
  assert.throws(() => asDataView("bytes"), TypeError);
});
