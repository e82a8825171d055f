import assert from "node:assert/strict";
import { test } from "node:test";
import { createFrameGate, isStale } from "../stale.js";

test("a frame of a job started before the page's latest change is stale", () => {
  assert.equal(isStale({ job: 5, request: 2 }, { request: 3 }), true);
  assert.equal(isStale({ job: 5, request: 3 }, { request: 3 }), false);
  assert.equal(isStale({ job: 5, request: 4 }, { request: 3 }), false);
});

test("a frame of a job older than one already drawn is stale; frames without a job are ignored", () => {
  assert.equal(isStale({ job: 4, request: 0 }, { lastJob: 5 }), true);
  assert.equal(isStale({ job: 5, request: 0 }, { lastJob: 5 }), false);
  assert.equal(isStale({}, {}), true);
  assert.equal(isStale(null, {}), true);
});

test("the gate lets a burst end with only the last value's frames", () => {
  const gate = createFrameGate();
  // frames as they arrive after the page moved a slider 3 times (requests 1..3);
  // jobs 1 and 2 were cancelled by the kernel but some of their frames were in flight
  const arrivals = [
    { job: 1, request: 1, step: 8 },
    { job: 2, request: 2, step: 8 },
    { job: 3, request: 3, step: 8 },
    { job: 3, request: 3, step: 16 },
  ];
  const drawn = arrivals.filter((meta) => gate.accept(meta, 3));
  assert.deepEqual(drawn.map((meta) => [meta.job, meta.step]), [[3, 8], [3, 16]]);
  assert.equal(gate.accept({ job: 2, request: 3, step: 24 }, 3), false);
  assert.equal(gate.lastJob, 3);
});
