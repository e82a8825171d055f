import assert from "node:assert/strict";
import { test } from "node:test";
import { edgePath, edgesOf, LAYOUT, layoutGraph, spriteCell } from "../summit_layout.js";

const GRAPH = {
  layers: ["conv1", "conv2"],
  nodes: [
    { id: 0, layer: 0, channel: 5 },
    { id: 1, layer: 0, channel: 2 },
    { id: 2, layer: 1, channel: 7 },
  ],
  edges: [
    { source: 0, target: 2, weight: 4 },
    { source: 1, target: 2, weight: 1 },
  ],
};

test("layers are columns and each column stacks its nodes in order", () => {
  const layout = layoutGraph(GRAPH);
  const [first, second, third] = layout.nodes;
  assert.equal(first.x, second.x);
  assert.equal(third.x - first.x, LAYOUT.columnGap);
  assert.equal(second.y - first.y, LAYOUT.node + LAYOUT.rowGap);
  assert.equal(first.y, third.y);
  assert.deepEqual(layout.columns.map((column) => column.name), ["conv1", "conv2"]);
  assert.ok(layout.width >= third.x + LAYOUT.node && layout.height >= second.y + LAYOUT.node);
});

test("edge widths follow the counts, the heaviest edge is widest", () => {
  const { edges } = layoutGraph(GRAPH);
  assert.equal(edges[0].width, LAYOUT.maxEdgeWidth);
  assert.equal(edges[1].width, LAYOUT.minEdgeWidth + (LAYOUT.maxEdgeWidth - LAYOUT.minEdgeWidth) / 4);
  assert.equal(edges[0].x1, 16 + LAYOUT.node);
  assert.equal(edges[0].x2, 16 + LAYOUT.columnGap);
});

test("edges to unknown nodes are dropped and an empty graph lays out", () => {
  const layout = layoutGraph({ ...GRAPH, edges: [{ source: 0, target: 9, weight: 1 }] });
  assert.equal(layout.edges.length, 0);
  const empty = layoutGraph({ layers: [], nodes: [], edges: [] });
  assert.equal(empty.nodes.length, 0);
  assert.ok(empty.width > 0 && empty.height > 0);
});

test("curves start and end at the node sides; sprite cells tile the sheet; hover finds a node's edges", () => {
  assert.equal(edgePath({ x1: 0, y1: 10, x2: 100, y2: 30 }), "M 0 10 C 50 10, 50 30, 100 30");
  assert.deepEqual(spriteCell(2, 3, 32), { x: 96, y: 64, size: 32 });
  assert.deepEqual(edgesOf(GRAPH.edges, 1), [GRAPH.edges[1]]);
  assert.equal(edgesOf(GRAPH.edges, 2).length, 2);
});
