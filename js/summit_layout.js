// Positions of the attribution graph: layers as columns, each column's nodes in
// score order from the top, edges as curves whose width follows their count.

export const LAYOUT = {
  node: 40, // thumbnail side in px
  rowGap: 16,
  columnGap: 180,
  margin: 16,
  header: 30, // room for the layer names
  label: 70, // room right of the last column for the node captions
  minEdgeWidth: 1,
  maxEdgeWidth: 9,
};

export function layoutGraph(graph, options = {}) {
  const o = { ...LAYOUT, ...options };
  const layers = graph?.layers ?? [];
  const columns = layers.map((name, index) => ({ name, index, x: o.margin + index * o.columnGap }));
  const rowsUsed = layers.map(() => 0);
  const nodes = (graph?.nodes ?? []).map((node) => {
    const row = rowsUsed[node.layer]++;
    return { ...node, row, x: columns[node.layer].x, y: o.margin + o.header + row * (o.node + o.rowGap) };
  });
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const heaviest = Math.max(1, ...(graph?.edges ?? []).map((edge) => edge.weight));
  const edges = (graph?.edges ?? [])
    .filter((edge) => byId.has(edge.source) && byId.has(edge.target))
    .map((edge) => {
      const from = byId.get(edge.source);
      const to = byId.get(edge.target);
      return {
        ...edge,
        x1: from.x + o.node, y1: from.y + o.node / 2,
        x2: to.x, y2: to.y + o.node / 2,
        width: o.minEdgeWidth + (o.maxEdgeWidth - o.minEdgeWidth) * (edge.weight / heaviest),
      };
    });
  const rows = Math.max(1, ...rowsUsed);
  return {
    columns,
    nodes,
    edges,
    width: 2 * o.margin + Math.max(0, layers.length - 1) * o.columnGap + o.node + o.label,
    height: 2 * o.margin + o.header + rows * o.node + (rows - 1) * o.rowGap,
    node: o.node,
  };
}

// A cubic curve leaving and entering horizontally.
export function edgePath(edge) {
  const middle = (edge.x1 + edge.x2) / 2;
  return `M ${edge.x1} ${edge.y1} C ${middle} ${edge.y1}, ${middle} ${edge.y2}, ${edge.x2} ${edge.y2}`;
}

// Where example `slot` of sprite row `row` sits in the sheet (cells of `size` px).
export function spriteCell(row, slot, size) {
  return { x: slot * size, y: row * size, size };
}

// Edges touching a node (for highlighting on hover).
export function edgesOf(edges, id) {
  return edges.filter((edge) => edge.source === id || edge.target === id);
}
