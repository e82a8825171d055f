"""Per-method controls of the explorer, described as data the JS turns into inputs.

A control is a small JSON-able dict::

    {"name": "samples", "label": "samples", "kind": "int", "min": 1, "max": 200,
     "step": 1, "default": 50}

``kind`` is ``"int"`` or ``"float"`` (a slider), ``"log"`` (a slider over
log10 of a positive value) or ``"choice"`` (a drop-down over JSON values,
``None`` shown as its ``none_label``). A control's ``role`` says where its
value goes: ``"option"`` (default) to the method's constructor, ``"stream"``
to ``explainer.stream(...)`` (IG's ``order``), ``"widget"`` to the widget
itself (IG's α scrubber).

Only methods registered in ``xai_widgets.methods.METHODS`` are offered; the
table below simply has nothing to say about a method that has not landed yet,
and a method without an entry is offered without controls.
"""

import math

INTEGRATION_RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gauss_legendre")
BASELINES = ("black", "white", "blur", "noise", "mean")
LRP_RULES = ("zero", "epsilon", "zplus", "alpha_beta", "gamma", "flat", "wsquare", "zbox")
DEEPLIFT_RULES = ("rescale", "reveal_cancel")
SMOOTHGRAD_VARIANTS = ("mean", "square", "var")

PATH_END = "alpha"  # IG's α scrubber: where along the path the attribution is accumulated to


def slider(name, kind, low, high, step, default, label=None, **extra):
    return dict(name=name, label=label or name, kind=kind, min=low, max=high, step=step, default=default, **extra)


def choice(name, choices, default, label=None, none_label="auto"):
    return dict(name=name, label=label or name, kind="choice", choices=list(choices), default=default,
                none_label=none_label)


def _module_constant(module, name, fallback):
    """A method module's own list of choices when it exports one (so the menu follows the code)."""
    import importlib

    try:
        value = getattr(importlib.import_module(f"xai_widgets.methods.{module}"), name)
    except (ImportError, AttributeError):
        return fallback
    return tuple(value) if isinstance(value, (list, tuple, dict)) else fallback


def _integrated_gradients(context):
    rules = _module_constant("integrated", "RULES", INTEGRATION_RULES)
    return [
        slider("steps", "int", 1, 300, 1, 50),
        choice("rule", rules, "riemann_trapezoid" if "riemann_trapezoid" in rules else rules[0]),
        choice("baseline", BASELINES, "black"),
        dict(choice("order", _module_constant("integrated", "ORDERS", ("path", "refine")), "path"), role="stream"),
        slider(PATH_END, "float", 0.0, 1.0, 0.01, 1.0, label="α", role="widget"),
    ]


def _smoothgrad(context):
    return [
        slider("samples", "int", 1, 200, 1, 50),
        slider("noise", "float", 0.0, 1.0, 0.01, 0.15, label="noise σ"),
        choice("variant", _module_constant("smoothgrad", "VARIANTS", SMOOTHGRAD_VARIANTS), "mean"),
    ]


def _lrp(context):
    rules = _module_constant("propagation.rules", "RULES", LRP_RULES)
    composites = _module_constant("propagation.composites", "COMPOSITES", ())
    controls = [choice("rule", rules, "epsilon" if "epsilon" in rules else rules[0])]
    if composites:
        controls.append(choice("composite", (None, *composites), None, none_label="none"))
    controls.append(slider("epsilon", "log", 1e-9, 1.0, 0.5, 1e-6, label="ε"))
    return controls


def _deeplift(context):
    return [
        choice("rule", _module_constant("propagation.deeplift", "RULE_SETS", DEEPLIFT_RULES), "rescale"),
        choice("baseline", BASELINES, "black"),
    ]


def _grad_cam(context):
    return [choice("layer", (None, *context.get("layers", ())), None)]


CONTROLS = {
    "integrated_gradients": _integrated_gradients,
    "smoothgrad": _smoothgrad,
    "lrp": _lrp,
    "deeplift": _deeplift,
    "grad_cam": _grad_cam,
    "grad_cam_plus_plus": _grad_cam,
}


def controls_for(method, context=None):
    """The controls of ``method`` (a list of control dicts; empty when it has none)."""
    build = CONTROLS.get(method)
    return build(context or {}) if build else []


def default_options(controls):
    """``{name: default}`` of a control list."""
    return {control["name"]: control["default"] for control in controls}


ROLES = ("option", "stream", "widget")


def split_options(controls, values):
    """Check control values and split them by role: ``{"option": {...}, "stream": {...}, "widget": {...}}``.

    Raises:
        ValueError: a value outside its control's range or choices, or an unknown name.
    """
    known = {control["name"]: control for control in controls}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; this method's controls are {sorted(known)}.")
    split = {role: {} for role in ROLES}
    for name, value in values.items():
        control = known[name]
        split[control.get("role", "option")][name] = check_value(control, value)
    return split


def check_value(control, value):
    """``value`` converted to the control's kind, or ValueError saying what is allowed."""
    name, kind = control["name"], control["kind"]
    if kind == "choice":
        if value not in control["choices"]:
            raise ValueError(f"{name} must be one of {control['choices']}; got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number in [{control['min']}, {control['max']}]; got {value!r}.")
    if not control["min"] <= value <= control["max"]:
        raise ValueError(f"{name} must be in [{control['min']}, {control['max']}]; got {value!r}.")
    return int(round(value)) if kind == "int" else float(value)


def conv_layers(keras_model):
    """Names of the layers with 4-D (image-like) outputs: Grad-CAM's candidate layers."""
    if keras_model is None:
        return ()
    names = []
    for layer in keras_model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):  # a layer called more than once has no single output
            continue
        if len(shape) == 4:
            names.append(layer.name)
    return tuple(names)
