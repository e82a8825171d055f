// DOM helpers shared by the widgets. Text always goes in through textContent,
// never as HTML, so class names and error messages cannot inject markup.
const SVG = "http://www.w3.org/2000/svg";

export function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

export function svgNode(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

// A binary trait arrives as a DataView (anywidget), an ArrayBuffer or a typed array.
export function bytesOf(view) {
  if (!view) return new Uint8Array(0);
  if (view instanceof ArrayBuffer) return new Uint8Array(view);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// A progress bar: `element` to place, `show(fraction)` to fill it (clamped to [0, 1]).
export function progressBar() {
  const element = node("div", "xw-progress");
  const fill = node("div", "xw-progress-fill");
  element.append(fill);
  const show = (fraction) => {
    const clamped = Math.max(0, Math.min(1, Number(fraction) || 0));
    fill.style.width = `${(clamped * 100).toFixed(1)}%`;
  };
  return { element, show };
}

// Mounts a widget's root (with its stylesheet) in `el` and returns it with
// `listen(event, handler)`, which subscribes to the model, and `unmount()`,
// which drops every subscription and the root again.
export function mount(model, el, className, style) {
  const root = node("div", className);
  root.append(node("style", "", style));
  el.append(root);
  const subscriptions = [];
  const listen = (event, handler) => {
    model.on(event, handler);
    subscriptions.push(() => model.off(event, handler));
  };
  const unmount = () => {
    for (const unsubscribe of subscriptions) unsubscribe();
    root.remove();
  };
  return { root, listen, unmount };
}
