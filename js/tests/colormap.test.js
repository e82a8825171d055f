import assert from "node:assert/strict";
import { test } from "node:test";
import { colorize, levelOf, resolveName, splitTables } from "../colormap.js";

function ramp(offset) {
  // a made-up table whose row i is (i, 255 − i, offset): enough to see which row was used
  const table = new Uint8Array(768);
  for (let i = 0; i < 256; i += 1) table.set([i, 255 - i, offset], 3 * i);
  return table;
}

test("splitTables cuts the concatenated K·256·3 bytes into named tables", () => {
  const bytes = new Uint8Array(2 * 768);
  bytes.set(ramp(7), 0);
  bytes.set(ramp(9), 768);
  const tables = splitTables(new DataView(bytes.buffer), ["first", "second"]);
  assert.deepEqual(Array.from(tables.get("first").slice(3, 6)), [1, 254, 7]);
  assert.deepEqual(Array.from(tables.get("second").slice(765)), [255, 0, 9]);
  assert.throws(() => splitTables(new Uint8Array(700), ["first"]), RangeError);
});

test("levelOf picks the row as matplotlib does: floor(t·256), 1 → 255, below 0 or NaN → 0", () => {
  assert.equal(levelOf(0), 0);
  assert.equal(levelOf(0.5), 128);
  assert.equal(levelOf(127.9 / 256), 127);
  assert.equal(levelOf(1), 255);
  assert.equal(levelOf(1.5), 255);
  assert.equal(levelOf(-0.2), 0);
  assert.equal(levelOf(NaN), 0);
});

test("colorize looks every value up in the table and returns opaque RGBA", () => {
  const rgba = colorize(new Float32Array([0, 0.5, 1]), ramp(3));
  assert.deepEqual(Array.from(rgba), [0, 255, 3, 255, 128, 127, 3, 255, 255, 0, 3, 255]);
});

test("'auto' resolves to inferno for magnitudes and bwr for signed maps; unknown names fall back", () => {
  const available = ["inferno", "viridis", "bwr"];
  assert.equal(resolveName("auto", false, available), "inferno");
  assert.equal(resolveName("auto", true, available), "bwr");
  assert.equal(resolveName("viridis", true, available), "viridis");
  assert.equal(resolveName("jet", false, available), "inferno");
  assert.equal(resolveName("auto", false, ["gray"]), "gray");
});
