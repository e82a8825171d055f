import assert from "node:assert/strict";
import { test } from "node:test";
import { choiceLabel, formatValue, fromSlider, sliderRange, toSlider } from "../controls.js";

const epsilon = { name: "epsilon", kind: "log", min: 1e-9, max: 1, step: 0.5 };
const samples = { name: "samples", kind: "int", min: 1, max: 200, step: 1 };

test("a log slider moves over log10 of the value and rounds to 3 significant digits", () => {
  assert.deepEqual(sliderRange(epsilon), { min: -9, max: 0, step: 0.5 });
  assert.equal(toSlider(epsilon, 1e-6), -6);
  assert.equal(fromSlider(epsilon, "-6"), 1e-6);
  assert.equal(fromSlider(epsilon, "-2.5"), 0.00316);
});

test("an int slider gives integers, a float slider numbers", () => {
  assert.equal(fromSlider(samples, "120"), 120);
  assert.equal(fromSlider({ kind: "float" }, "0.15"), 0.15);
  assert.equal(formatValue({ kind: "float" }, 0.1), "0.10");
  assert.equal(formatValue(epsilon, 1e-6), "1e-6");
});

test("choices show their labels, and null as the control's none_label", () => {
  const layer = { kind: "choice", choices: [null, "conv1"], none_label: "auto" };
  assert.equal(choiceLabel(layer, null), "auto");
  assert.equal(choiceLabel(layer, "conv1"), "conv1");
  const signed = { kind: "choice", choices: [false, true], labels: ["absolute", "signed"] };
  assert.equal(choiceLabel(signed, true), "signed");
});
