// The explorer widget's view: wires the pure modules (decode, colormap, compose,
// stale filter, chart, controls) to the DOM. Display controls redraw the last
// frame here, at once; compute controls change traits and the kernel streams frames.
import { bytesOf, mount, node, progressBar } from "./dom.js";
import { drawChart, SERIES } from "./chart.js";
import { colorize, resolveName, splitTables } from "./colormap.js";
import { composite, gainOf, interpolate, normalise, resample, rgbToRgba, zoomFor } from "./compose.js";
import { buildControl } from "./controls.js";
import { decodeFrame } from "./frame.js";
import { createFrameGate } from "./stale.js";
import { STYLE } from "./style.js";

const IG = "integrated_gradients";
const STEP_NAMES = { smoothgrad: "samples", integrated_gradients: "α-steps" };

function formatNumber(value) {
  if (!Number.isFinite(value)) return "–";
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e4) ? value.toExponential(2) : value.toPrecision(3);
}

function paint(canvas, rgba, width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

function displayControls(names) {
  return [
    { name: "opacity", label: "opacity", kind: "float", min: 0, max: 1, step: 0.01 },
    { name: "cmap", label: "colormap", kind: "choice", choices: ["auto", ...names] },
    { name: "clip", label: "clip %", kind: "float", min: 50, max: 100, step: 0.1 },
    { name: "signed", label: "values", kind: "choice", choices: [false, true], labels: ["absolute", "signed"] },
  ];
}

function render({ model, el }) {
  const { root, listen, unmount } = mount(model, el, "xw-explorer", STYLE);

  // ------------------------------------------------------------------ layout
  const title = node("div", "xw-title");
  const top = node("div", "xw-top");
  const methodSelect = node("select", "xw-method");
  const targetSelect = node("select", "xw-target");
  const methodLabel = node("label", "", "method ");
  methodLabel.append(methodSelect);
  const targetLabel = node("label", "", "target ");
  targetLabel.append(targetSelect);
  top.append(methodLabel, targetLabel);

  const main = node("div", "xw-main");
  const figure = node("div", "xw-figure");
  const canvas = node("canvas", "xw-canvas");
  const colorbar = node("div", "xw-colorbar");
  const colorbarRow = node("div", "xw-colorbar-row");
  const colorbarCanvas = node("canvas");
  colorbarCanvas.width = 1;
  colorbarCanvas.height = 256;
  const ticks = node("div", "xw-ticks");
  const tickTop = node("span", "", "");
  const tickMiddle = node("span", "", "");
  const tickBottom = node("span", "", "");
  ticks.append(tickTop, tickMiddle, tickBottom);
  colorbarRow.append(colorbarCanvas, ticks);
  colorbar.append(colorbarRow);
  figure.append(canvas, colorbar);

  const panel = node("div", "xw-panel");
  const methodBox = node("fieldset", "xw-controls");
  const methodLegend = node("legend", "", "method");
  const methodRows = node("div");
  methodBox.append(methodLegend, methodRows);
  const displayBox = node("fieldset", "xw-display");
  displayBox.append(node("legend", "", "display"));
  panel.append(methodBox, displayBox);
  main.append(figure, panel);

  const status = node("div", "xw-status");
  const progress = progressBar();
  const figures = node("span", "xw-figures", "");
  status.append(progress.element, figures);

  const alphaPanel = node("div", "xw-alpha");
  const alphaRow = node("div", "xw-alpha-row");
  const small = (caption) => {
    const cell = node("div", "xw-cell");
    const smallCanvas = node("canvas", "xw-small");
    cell.append(smallCanvas, node("span", "", caption));
    alphaRow.append(cell);
    return smallCanvas;
  };
  const interpolatedCanvas = small("x′ + α(x − x′)");
  const gradientCanvas = small("∂F/∂x at α");
  const accumulatedCanvas = small("A accumulated to α");
  const chartCell = node("div", "xw-cell");
  const chartCanvas = node("canvas", "xw-chart");
  chartCanvas.width = 240;
  chartCanvas.height = 128;
  const legend = node("div", "xw-legend");
  for (const { label, color } of SERIES) {
    const entry = node("span", "", `— ${label}`);
    entry.style.color = color;
    legend.append(entry);
  }
  chartCell.append(chartCanvas, legend);
  alphaRow.append(chartCell);
  alphaPanel.append(alphaRow);

  const error = node("div", "xw-error");
  root.append(title, top, main, status, alphaPanel, error);

  // ------------------------------------------------------------------- state
  const gate = createFrameGate();
  let tables = new Map();
  let names = [];
  let width = 0;
  let height = 0;
  let image = new Uint8Array(0);
  let frame = null;
  let meta = {};
  let gradient = null;
  let normalised = null; // cache: {frame, clip, signed, unit, level}
  let framesDrawn = 0;
  let methodControls = new Map();

  const setting = (name) => model.get(name);
  const currentOptions = () => (setting("options") ?? {})[setting("method")] ?? {};
  const interactive = () => setting("interactive") !== false;

  function loadStatic() {
    names = setting("colormap_names") ?? [];
    tables = names.length ? splitTables(setting("colormap_table"), names) : new Map();
    [height, width] = setting("image_size") ?? [0, 0];
    image = bytesOf(setting("image"));
    const zoom = zoomFor(width, height, setting("compact") ? 192 : 320);
    canvas.style.width = `${width * zoom}px`;
    canvas.style.height = `${height * zoom}px`;
    colorbarCanvas.style.height = canvas.style.height;
    const smallZoom = zoomFor(width, height, 128);
    for (const smallCanvas of [interpolatedCanvas, gradientCanvas, accumulatedCanvas]) {
      smallCanvas.width = width;
      smallCanvas.height = height;
      smallCanvas.style.width = `${width * smallZoom}px`;
      smallCanvas.style.height = `${height * smallZoom}px`;
    }
    root.dataset.compact = String(Boolean(setting("compact")));
    title.textContent = setting("title") ?? "";
  }

  function table() {
    return tables.get(resolveName(setting("cmap"), Boolean(setting("signed")), names));
  }

  function heatValues(decoded) {
    return resample(decoded.values, decoded.width, decoded.height, width, height);
  }

  function currentNormalised() {
    const clip = Number(setting("clip"));
    const signed = Boolean(setting("signed"));
    if (!normalised || normalised.frame !== frame || normalised.clip !== clip || normalised.signed !== signed) {
      normalised = { frame, clip, signed, ...normalise(heatValues(frame), { clip, signed, gain: gainOf(meta) }) };
    }
    return normalised;
  }

  // ------------------------------------------------------------------ drawing
  let drawnDisplay = "";
  const displayKey = () => JSON.stringify(["opacity", "cmap", "clip", "signed"].map(setting));

  function drawMain() {
    if (!width || !height) return;
    drawnDisplay = displayKey();
    const lookup = table();
    if (!frame || !lookup) {
      paint(canvas, rgbToRgba(image), width, height);
      return;
    }
    const { unit, level, signed } = currentNormalised();
    const heat = colorize(unit, lookup);
    paint(canvas, composite(image, heat, Number(setting("opacity"))), width, height);
    drawColorbar(lookup, level * (meta.scale ?? 1), signed);
  }

  function drawColorbar(lookup, top, signed) {
    const levels = new Float32Array(256).map((_, i) => (255 - i) / 255);
    paint(colorbarCanvas, colorize(levels, lookup), 1, 256);
    tickTop.textContent = signed ? `+${formatNumber(top)}` : formatNumber(top);
    tickMiddle.textContent = signed ? "0" : "";
    tickBottom.textContent = signed ? `−${formatNumber(top)}` : "0";
  }

  function alphaValue() {
    const value = Number(currentOptions().alpha);
    return Number.isFinite(value) ? value : 1;
  }

  function drawAlphaPanel() {
    alphaPanel.hidden = setting("method") !== IG || Boolean(setting("compact"));
    if (alphaPanel.hidden || !width) return;
    const alpha = alphaValue();
    const baseline = bytesOf(setting("baseline_image"));
    if (baseline.length === image.length && image.length) paint(interpolatedCanvas, interpolate(image, baseline, alpha), width, height);
    const lookup = table();
    if (gradient && lookup) {
      const { unit } = normalise(heatValues(gradient), { clip: Number(setting("clip")), signed: Boolean(setting("signed")) });
      paint(gradientCanvas, colorize(unit, lookup), width, height);
    }
    if (frame && lookup) paint(accumulatedCanvas, colorize(currentNormalised().unit, lookup), width, height);
    const foreground = getComputedStyle(root).color || "#666";
    drawChart(chartCanvas.getContext("2d"), meta.curves, alpha, { width: chartCanvas.width, height: chartCanvas.height, foreground });
  }

  function drawStatus() {
    progress.show(meta.progress);
    if (meta.job === undefined) {
      figures.textContent = "computing…";
      return;
    }
    const parts = [`${STEP_NAMES[meta.method] ?? "steps"} ${meta.step}/${meta.total}`, `${Math.round(meta.elapsed_ms)} ms`];
    if (meta.delta !== null && meta.delta !== undefined) parts.push(`δ = ${formatNumber(meta.delta)}`);
    figures.textContent = parts.join(" · ");
    Object.assign(root.dataset, {
      job: String(meta.job), step: String(meta.step), total: String(meta.total),
      progress: String(meta.progress), frames: String(framesDrawn), method: String(meta.method),
    });
  }

  function onFrame() {
    const next = setting("frame_meta") ?? {};
    if (!gate.accept(next, Number(setting("request") ?? 0))) return;
    try {
      frame = decodeFrame(setting("frame"), next);
      gradient = next.method === IG ? decodeFrame(setting("gradient_frame"), next) : null;
    } catch (problem) {
      error.textContent = `cannot decode frame: ${problem.message}`;
      return;
    }
    meta = next;
    framesDrawn += 1;
    drawMain();
    drawAlphaPanel();
    drawStatus();
  }

  // ----------------------------------------------------------------- controls
  function changeCompute(changes) {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.set("request", Number(setting("request") ?? 0) + 1);
    model.save_changes();
  }

  function setOption(name, value) {
    const all = { ...(setting("options") ?? {}) };
    const method = setting("method");
    if ((all[method] ?? {})[name] === value) return;
    all[method] = { ...(all[method] ?? {}), [name]: value };
    if (name === "alpha" && method === IG) {
      model.set("options", all);
      drawAlphaPanel(); // the interpolated input follows the scrubber at once
    }
    changeCompute({ options: all });
  }

  function buildMethodPicker() {
    methodSelect.replaceChildren();
    for (const { name, label } of setting("methods") ?? []) {
      const option = node("option", "", label);
      option.value = name;
      methodSelect.append(option);
    }
    methodSelect.value = setting("method");
  }

  function buildTargetPicker() {
    targetSelect.replaceChildren();
    for (const { index, name, probability } of setting("classes") ?? []) {
      const option = node("option", "", `${name} — ${(probability * 100).toFixed(1)} %`);
      option.value = String(index);
      targetSelect.append(option);
    }
    targetSelect.value = String(setting("target"));
  }

  function buildMethodControls() {
    const method = setting("method");
    const entry = (setting("methods") ?? []).find((candidate) => candidate.name === method);
    methodRows.replaceChildren();
    methodControls = new Map();
    methodLegend.textContent = entry ? entry.label : method;
    const controls = entry ? entry.controls : [];
    if (controls.length === 0) methodRows.append(node("span", "xw-figures", "no options"));
    const values = currentOptions();
    for (const control of controls) {
      const built = buildControl(control, values[control.name] ?? control.default, (value) => setOption(control.name, value));
      built.input.disabled = !interactive();
      methodControls.set(control.name, built);
      methodRows.append(built.row);
    }
  }

  function syncMethodControls() {
    const values = currentOptions();
    for (const [name, built] of methodControls) if (name in values) built.setValue(values[name]);
  }

  const displayInputs = new Map();
  function buildDisplayControls() {
    for (const control of displayControls(names)) {
      const built = buildControl(control, setting(control.name), (value) => {
        model.set(control.name, value);
        if (displayKey() !== drawnDisplay) {
          drawMain(); // applied to the last frame here, without waiting for the kernel
          drawAlphaPanel();
        }
        model.save_changes();
      });
      displayInputs.set(control.name, built);
      displayBox.append(built.row);
    }
  }

  methodSelect.addEventListener("change", () => changeCompute({ method: methodSelect.value }));
  targetSelect.addEventListener("change", () => changeCompute({ target: Number(targetSelect.value) }));

  // ------------------------------------------------------------------ wiring
  loadStatic();
  buildMethodPicker();
  buildTargetPicker();
  buildMethodControls();
  buildDisplayControls();
  methodSelect.disabled = targetSelect.disabled = !interactive();
  error.textContent = setting("error") ?? "";
  drawMain();
  onFrame();
  drawAlphaPanel();
  drawStatus();

  listen("change:frame_meta", onFrame);
  listen("change:method", () => {
    methodSelect.value = setting("method");
    buildMethodControls();
    drawAlphaPanel();
  });
  listen("change:methods", () => { buildMethodPicker(); buildMethodControls(); });
  listen("change:options", () => { syncMethodControls(); drawAlphaPanel(); });
  listen("change:classes", buildTargetPicker);
  listen("change:target", () => { targetSelect.value = String(setting("target")); });
  listen("change:error", () => { error.textContent = setting("error") ?? ""; });
  listen("change:baseline_image", drawAlphaPanel);
  listen("change:title", () => { title.textContent = setting("title") ?? ""; });
  for (const name of ["opacity", "cmap", "clip", "signed"]) {
    listen(`change:${name}`, () => {
      displayInputs.get(name)?.setValue(setting(name));
      if (displayKey() === drawnDisplay) return;
      drawMain();
      drawAlphaPanel();
    });
  }

  return unmount;
}

export default { render };
