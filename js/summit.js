// The Summit view: class list (search, sort), class map, and the selected class's
// attribution graph in SVG. Wires the pure modules to the DOM; all state is in
// the widget's traits, and choosing a class only sets `selected`.
import { bytesOf, mount, node, progressBar, svgNode } from "./dom.js";
import { SORT_KEYS, visibleClasses } from "./summit_classes.js";
import { scalePoints } from "./summit_embedding.js";
import { edgePath, edgesOf, layoutGraph, spriteCell } from "./summit_layout.js";
import { SUMMIT_STYLE } from "./summit_style.js";

const MAP_SIZE = { width: 220, height: 160 };
const SORT_LABELS = { images: "most images", name: "name", index: "class index" };

function render({ model, el }) {
  const { root, listen, unmount } = mount(model, el, "xw-summit", SUMMIT_STYLE);
  const select = (index) => {
    model.set("selected", index);
    model.save_changes();
  };


  const status = node("div", "xw-summit-status");
  const progress = progressBar();
  const statusText = node("span", "", "");
  status.append(progress.element, statusText);
  const error = node("div", "xw-error", "");

  const main = node("div", "xw-summit-main");
  const side = node("div", "xw-summit-side");
  const tools = node("div", "xw-summit-tools");
  const search = node("input", "xw-class-search");
  search.type = "search";
  search.placeholder = "search classes";
  const sort = node("select", "xw-class-sort");
  for (const key of SORT_KEYS) {
    const option = node("option", "", `sort: ${SORT_LABELS[key]}`);
    option.value = key;
    sort.append(option);
  }
  tools.append(search, sort);
  const list = node("ul", "xw-class-list");
  list.setAttribute("role", "listbox");
  const map = svgNode("svg", { class: "xw-class-map", width: MAP_SIZE.width, height: MAP_SIZE.height });
  side.append(tools, list, map);

  const graphBox = node("div", "xw-summit-graph-box");
  const graphTitle = node("div", "xw-summit-graph-title", "");
  const graphSvg = svgNode("svg", { class: "xw-summit-graph" });
  graphBox.append(graphTitle, graphSvg);
  main.append(side, graphBox);

  const tooltip = node("div", "xw-tooltip");
  tooltip.hidden = true;
  root.append(status, error, main, tooltip);

  let spriteUrl = "";
  let sheet = { cell: 32, slots: 1, rows: 0 }; // the sprite sheet's grid: one row per node, one cell per example
  const classes = () => model.get("classes") ?? [];
  const nameOf = (index) => classes().find((item) => item.index === index)?.name ?? `class ${index}`;

  // ---------------------------------------------------------------- classes
  function drawList() {
    const selected = model.get("selected");
    list.replaceChildren();
    for (const item of visibleClasses(classes(), search.value, sort.value)) {
      const row = node("li", "xw-class-row");
      row.setAttribute("role", "option");
      row.setAttribute("aria-selected", String(item.index === selected));
      row.dataset.index = String(item.index);
      row.append(node("span", "xw-class-name", item.name), node("span", "xw-class-count", String(item.images)));
      row.addEventListener("click", () => select(item.index));
      list.append(row);
    }
  }

  function drawMap() {
    const selected = model.get("selected");
    map.replaceChildren();
    const placed = scalePoints(model.get("embedding") ?? [], MAP_SIZE.width, MAP_SIZE.height, 14);
    placed.forEach((point, index) => {
      if (!point) return;
      const group = svgNode("g", { class: "xw-class-point" });
      const dot = svgNode("circle", { class: "xw-class-dot", cx: point.x, cy: point.y, r: 5 });
      dot.dataset.selected = String(index === selected);
      dot.dataset.index = String(index);
      dot.addEventListener("click", () => select(index));
      group.append(dot, svgNode("title", {}, nameOf(index)));
      const offset = point.anchor === "end" ? -7 : 7;
      group.append(svgNode("text", { x: point.x + offset, y: point.y + 4, "text-anchor": point.anchor }, nameOf(index)));
      map.append(group);
    });
  }

  // ------------------------------------------------------------------ graph
  function refreshSprites() {
    if (spriteUrl) URL.revokeObjectURL(spriteUrl);
    const bytes = bytesOf(model.get("sprites"));
    spriteUrl = bytes.length ? URL.createObjectURL(new Blob([bytes], { type: "image/png" })) : "";
  }

  function thumbnail(row, slot, size, x, y) {
    const cell = spriteCell(row, slot, sheet.cell);
    const frame = svgNode("svg", { x, y, width: size, height: size, viewBox: `${cell.x} ${cell.y} ${sheet.cell} ${sheet.cell}` });
    frame.append(svgNode("image", {
      href: spriteUrl, width: sheet.cell * sheet.slots, height: sheet.cell * sheet.rows, preserveAspectRatio: "none",
    }));
    return frame;
  }

  function drawGraph() {
    const graph = model.get("graph") ?? {};
    graphSvg.replaceChildren();
    tooltip.hidden = true;
    if (!graph.nodes) {
      graphTitle.textContent = "";
      return;
    }
    sheet = {
      cell: model.get("sprite_size") || 32,
      slots: model.get("example_slots") || 1,
      rows: graph.nodes.length,
    };
    const layout = layoutGraph(graph);
    graphSvg.setAttribute("width", layout.width);
    graphSvg.setAttribute("height", layout.height);
    graphSvg.dataset.classIndex = String(graph.class_index);
    graphTitle.textContent = `${nameOf(graph.class_index)} · ${graph.images} images` +
      (graph.connected ? "" : " · layers not connected");

    for (const column of layout.columns) {
      graphSvg.append(svgNode("text", { x: column.x, y: 16, class: "xw-layer-name" }, column.name));
    }
    const edgeElements = layout.edges.map((edge) => {
      const path = svgNode("path", { class: "xw-edge", d: edgePath(edge), "stroke-width": edge.width.toFixed(2) });
      path.append(svgNode("title", {}, `${edge.weight} images`));
      graphSvg.append(path);
      return { edge, path };
    });
    for (const item of layout.nodes) {
      const group = svgNode("g", { class: "xw-node" });
      group.dataset.layer = String(item.layer);
      group.dataset.channel = String(item.channel);
      if ((item.examples ?? []).length && spriteUrl) group.append(thumbnail(item.id, 0, layout.node, item.x, item.y));
      group.append(svgNode("rect", { x: item.x, y: item.y, width: layout.node, height: layout.node }));
      group.append(svgNode("text", { x: item.x + layout.node + 4, y: item.y + 14 }, `#${item.channel}`));
      group.append(svgNode("text", { x: item.x + layout.node + 4, y: item.y + 28, class: "xw-node-count" },
        `${item.count}×`));
      group.addEventListener("mouseenter", () => showTooltip(item, graph, edgeElements));
      group.addEventListener("mouseleave", () => hideTooltip(edgeElements));
      graphSvg.append(group);
    }
  }

  function showTooltip(item, graph, edgeElements) {
    const touching = new Set(edgesOf(graph.edges, item.id));
    for (const { edge, path } of edgeElements) path.dataset.active = String(touching.has(edge));
    tooltip.replaceChildren();
    tooltip.append(node("strong", "", `${graph.layers[item.layer]} · channel ${item.channel}`));
    tooltip.append(node("span", "", `counted in ${item.count} of ${graph.images} images · score ${item.score.toFixed(4)}`));
    const examples = node("div", "xw-tooltip-examples");
    const scale = 48 / sheet.cell;
    for (const example of item.examples ?? []) {
      const cell = spriteCell(item.id, example.slot, sheet.cell);
      const box = node("div", "xw-example");
      const picture = node("div", "xw-example-image");
      if (spriteUrl) {
        picture.style.backgroundImage = `url("${spriteUrl}")`;
        picture.style.backgroundSize = `${sheet.slots * sheet.cell * scale}px ${sheet.rows * sheet.cell * scale}px`;
        picture.style.backgroundPosition = `${-cell.x * scale}px ${-cell.y * scale}px`;
      }
      box.append(picture, node("span", "", nameOf(example.label)), node("span", "", example.value.toPrecision(3)));
      examples.append(box);
    }
    tooltip.append(examples);
    if ((item.neighbours ?? []).length) {
      const inputs = item.neighbours.map((neighbour) => `#${neighbour.channel} (${neighbour.count})`).join(", ");
      tooltip.append(node("span", "", `strongest inputs: ${inputs}`));
    }
    const rootBox = root.getBoundingClientRect();
    const graphBoxRect = graphSvg.getBoundingClientRect();
    tooltip.hidden = false;
    // next to the node, kept inside the widget (the output area may clip what sticks out)
    const top = graphBoxRect.top - rootBox.top + item.y;
    tooltip.style.left = `${graphBoxRect.left - rootBox.left + item.x + 50}px`;
    tooltip.style.top = `${Math.max(0, Math.min(top, root.clientHeight - tooltip.offsetHeight))}px`;
  }

  function hideTooltip(edgeElements) {
    tooltip.hidden = true;
    for (const { path } of edgeElements) delete path.dataset.active;
  }

  // ----------------------------------------------------------------- status
  function drawStatus() {
    progress.show(model.get("progress"));
    statusText.textContent = model.get("status") ?? "";
    error.textContent = model.get("error") ?? "";
  }

  search.addEventListener("input", drawList);
  sort.addEventListener("change", drawList);
  listen("change:classes", () => { drawList(); drawMap(); });
  listen("change:embedding", drawMap);
  listen("change:selected", () => { drawList(); drawMap(); });
  listen("change:sprites", () => { refreshSprites(); drawGraph(); });
  listen("change:graph", drawGraph);
  listen("change:progress", drawStatus);
  listen("change:status", drawStatus);
  listen("change:error", drawStatus);

  refreshSprites();
  drawStatus();
  drawList();
  drawMap();
  drawGraph();

  return () => {
    if (spriteUrl) URL.revokeObjectURL(spriteUrl);
    unmount();
  };
}

export default { render };
