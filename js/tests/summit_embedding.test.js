import assert from "node:assert/strict";
import { test } from "node:test";
import { scalePoints } from "../summit_embedding.js";

test("class coordinates fill the box inside the margin, y pointing up", () => {
  const placed = scalePoints([[0, 0], [2, 4], null, [1, 2]], 110, 70, 5);
  assert.deepEqual(placed[0], { x: 5, y: 65, anchor: "start" });
  assert.deepEqual(placed[1], { x: 105, y: 5, anchor: "end" });
  assert.equal(placed[2], null);
  assert.deepEqual(placed[3], { x: 55, y: 35, anchor: "start" });
});

test("a single class or no classes still place", () => {
  assert.deepEqual(scalePoints([[3, 3]], 100, 50), [{ x: 50, y: 25, anchor: "start" }]);
  assert.deepEqual(scalePoints([null, null], 100, 50), [null, null]);
});
