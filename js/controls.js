// Method controls described by the kernel as data ({name, label, kind, min, max,
// step, default, choices}); the value conversions are pure, the builders make DOM.

/** Slider position ↔ option value ("log" sliders move over log10 of the value). */
export function toSlider(control, value) {
  return control.kind === "log" ? Math.log10(value) : value;
}

export function fromSlider(control, position) {
  const number = Number(position);
  if (control.kind === "log") return Number((10 ** number).toPrecision(3));
  if (control.kind === "int") return Math.round(number);
  return number;
}

export function sliderRange(control) {
  if (control.kind === "log") {
    return { min: Math.log10(control.min), max: Math.log10(control.max), step: control.step };
  }
  return { min: control.min, max: control.max, step: control.step };
}

/** Short text of a value next to its control. */
export function formatValue(control, value) {
  if (value === null || value === undefined) return control.none_label ?? "auto";
  if (control.kind === "log") return Number(value).toExponential(0);
  if (control.kind === "float") return Number(value).toFixed(2);
  return String(value);
}

/** A choice's text in the drop-down (null is shown as the control's none_label). */
export function choiceLabel(control, choice) {
  const index = control.choices.indexOf(choice);
  if (control.labels && index >= 0 && control.labels[index] !== undefined) return control.labels[index];
  return choice === null ? (control.none_label ?? "auto") : String(choice);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * One labelled control. `onInput(value)` is called while a slider moves and when a choice changes.
 * Returns {row, input, setValue(value)}.
 */
export function buildControl(control, value, onInput) {
  const row = element("label", "xw-row");
  row.dataset.control = control.name;
  row.append(element("span", "xw-label", control.label));
  let input;
  const shown = element("span", "xw-value", formatValue(control, value));
  if (control.kind === "choice") {
    input = element("select", "xw-input");
    control.choices.forEach((choice, index) => {
      const option = element("option", "", choiceLabel(control, choice));
      option.value = String(index);
      input.append(option);
    });
    input.addEventListener("change", () => onInput(control.choices[Number(input.value)]));
  } else {
    input = element("input", "xw-input");
    input.type = "range";
    Object.assign(input, sliderRange(control));
    input.addEventListener("input", () => {
      const next = fromSlider(control, input.value);
      shown.textContent = formatValue(control, next);
      onInput(next);
    });
  }
  input.name = control.name;
  const setValue = (next) => {
    if (control.kind === "choice") {
      input.value = String(Math.max(0, control.choices.findIndex((choice) => choice === next)));
    } else {
      input.value = String(toSlider(control, next));
    }
    shown.textContent = formatValue(control, next);
  };
  setValue(value);
  row.append(input);
  if (control.kind !== "choice") row.append(shown);
  return { row, input, setValue };
}
