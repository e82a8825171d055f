import assert from "node:assert/strict";
import { test } from "node:test";
import { filterClasses, sortClasses, visibleClasses } from "../summit_classes.js";

const CLASSES = [
  { index: 0, name: "circle", images: 40 },
  { index: 1, name: "Square", images: 55 },
  { index: 2, name: "star", images: 40 },
  { index: 3, name: "ring", images: 0 },
];

test("search matches names case-insensitively, or the class index", () => {
  assert.deepEqual(filterClasses(CLASSES, "SQ").map((c) => c.index), [1]);
  assert.deepEqual(filterClasses(CLASSES, "r").map((c) => c.index), [0, 1, 2, 3]);
  assert.deepEqual(filterClasses(CLASSES, "2").map((c) => c.index), [2]);
  assert.deepEqual(filterClasses(CLASSES, "  ").length, 4);
  assert.deepEqual(filterClasses(CLASSES, "<b>").length, 0);
});

test("sorting by count puts the most images first and breaks ties by index", () => {
  assert.deepEqual(sortClasses(CLASSES, "images").map((c) => c.index), [1, 0, 2, 3]);
  assert.deepEqual(sortClasses(CLASSES, "name").map((c) => c.name), ["circle", "ring", "Square", "star"]);
  assert.deepEqual(sortClasses(CLASSES, "index").map((c) => c.index), [0, 1, 2, 3]);
});

test("search and sort compose and never change the input", () => {
  const copy = structuredClone(CLASSES);
  assert.deepEqual(visibleClasses(CLASSES, "s", "images").map((c) => c.index), [1, 2]);
  assert.deepEqual(visibleClasses(CLASSES, "c", "name").map((c) => c.name), ["circle"]);
  assert.deepEqual(CLASSES, copy);
});
