"""`Explorer`: one image, every available method, sliders that stream back into the cell.

The Python class is the state (traitlets, synced with the front end) and the
compute: each change of a compute parameter (method, target, the method's
options) starts a job on the widget's `StreamWorker`, whose frames land in the
binary ``frame`` trait. Display controls (opacity, colormap, clip percentile,
signed) are traits too, but only the JS reads them, so they never wait for
the kernel.
"""

import threading
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from ..methods.base import METHODS
from ..model import as_target_model
from . import controls as control_specs
from .display import COLORMAPS, colormap_tables, display_range, method_label, rgb_bytes, top_classes
from .jobs import JobMemory, Request, make_job, resolve_image_baseline
from .stream import FRAME_DTYPES, StreamWorker

STATIC = Path(__file__).resolve().parent.parent / "static"
METHOD_ORDER = ("saliency", "gradient_x_input", "integrated_gradients", "smoothgrad", "grad_cam",
                "grad_cam_plus_plus", "lrp", "deeplift", "guided_backprop")

MISSING_BUNDLE = """
export default {
  render({ el }) {
    el.textContent = "The xai-widgets front end is not built: run `npm install && npm run build` " +
      "in the repository (it writes xai_widgets/static/%s.js), then re-run this cell.";
  },
};
"""


def bundle(name):
    """The built ES module ``static/<name>.js``, or a stub that says how to build it."""
    path = STATIC / f"{name}.js"
    return path.read_text(encoding="utf-8") if path.is_file() else MISSING_BUNDLE % name


def available_methods(methods=None):
    """Method names to offer: ``methods`` checked against ``METHODS``, or all registered ones."""
    if methods is None:
        return [name for name in METHOD_ORDER if name in METHODS] + sorted(set(METHODS) - set(METHOD_ORDER))
    if isinstance(methods, str):
        methods = [methods]
    names = list(methods)
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise ValueError(
            f"unknown method(s) {unknown or names}; available: {', '.join(available_methods())}."
        )
    return names


class Explorer(anywidget.AnyWidget):
    """The attribution explorer for one image (what `xw.show` returns).

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        image: one image ``(H, W, C)`` (or a batch of one).
        methods: method names to offer (default: every registered method).
        target: class to explain; ``None`` = the most probable one.
        class_names: names of the classes (a sequence or a dict), shown as text.
        method: the method shown first (default: the first of ``methods``).
        options: initial options per method, e.g. ``{"smoothgrad": {"samples": 20}}``.
        title: a caption above the image.
        compact: hide the pickers and method controls (the cells of `compare`).
        frame_dtype: ``"float16"`` (default) or ``"uint8"`` frames.
        inline: run jobs in the calling thread (default: only under Colab).

    Attributes:
        attribution: the latest `Attribution` (partial while a job streams).
        error: the last error message ("" when the last change worked).

    Example:
        >>> widget = xw.show(model, image, class_names=xw.zoo.SHAPES_CLASSES)
        >>> widget                      # the notebook shows the explorer
        >>> widget.wait(); widget.attribution.values.shape
    """

    image = t.Bytes(b"").tag(sync=True)
    image_size = t.List(t.Int(), default_value=[0, 0]).tag(sync=True)
    baseline_image = t.Bytes(b"").tag(sync=True)
    colormap_names = t.List(t.Unicode()).tag(sync=True)
    colormap_table = t.Bytes(b"").tag(sync=True)
    methods = t.List(t.Dict()).tag(sync=True)
    method = t.Unicode("").tag(sync=True)
    options = t.Dict().tag(sync=True)
    classes = t.List(t.Dict()).tag(sync=True)
    target = t.Int(0).tag(sync=True)
    frame = t.Bytes(b"").tag(sync=True)
    frame_meta = t.Dict().tag(sync=True)
    gradient_frame = t.Bytes(b"").tag(sync=True)
    opacity = t.Float(0.6).tag(sync=True)
    cmap = t.Unicode("auto").tag(sync=True)
    clip = t.Float(99.5).tag(sync=True)
    signed = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    request = t.Int(0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    compact = t.Bool(False).tag(sync=True)
    interactive = t.Bool(True).tag(sync=True)

    def __init__(self, model, image, methods=None, target=None, class_names=None, *, method=None, options=None,
                 title="", compact=False, frame_dtype="float16", inline=None):
        self._esm = bundle("explorer")
        self._ready = False
        self._model = as_target_model(model)
        pixels = self._one_image(image)
        names = available_methods(methods)
        if method is not None and method not in names:
            raise ValueError(f"method {method!r} is not among the offered methods {names}.")
        logits = self._model.logits(pixels[np.newaxis])[0]
        target = self._check_target(target, len(logits), default=int(np.argmax(logits)))
        self._pixels = pixels
        self._range = display_range(pixels)
        context = {"layers": control_specs.conv_layers(self._model.keras_model)}
        self._controls = {name: control_specs.controls_for(name, context) for name in names}
        if frame_dtype not in FRAME_DTYPES:
            raise ValueError(f"frame_dtype must be one of {FRAME_DTYPES}; got {frame_dtype!r}.")
        self._frame_dtype = frame_dtype
        self._worker = StreamWorker(inline=inline)
        self._memory = JobMemory()
        self._baselines = {}
        self._attribution = None
        self._jobs = 0
        self._sync_lock = threading.RLock()
        super().__init__(
            image=rgb_bytes(pixels, self._range),
            image_size=list(pixels.shape[:2]),
            colormap_names=list(COLORMAPS),
            colormap_table=colormap_tables(COLORMAPS),
            methods=[{"name": name, "label": method_label(name), "controls": self._controls[name]} for name in names],
            method=method or names[0],
            options=self._initial_options(names, options or {}),
            classes=top_classes(logits, class_names, include=target),
            target=target,
            title=title,
            compact=compact,
        )
        self._ready = True
        self._start_job()

    # ----------------------------------------------------------------- public
    @property
    def attribution(self):
        """The latest `Attribution` this widget produced (partial while streaming), or None."""
        return self._attribution

    def wait(self, timeout=None):
        """Block until the current job is done (no front end needed); False on timeout.

        Example:
            >>> widget.wait(); widget.attribution.progress
            1.0
        """
        return self._worker.wait(timeout)

    def save_html(self, path):
        """Write a self-contained HTML page that shows the last frame without a kernel.

        Display controls (opacity, colormap, clip, signed) keep working in the page.
        """
        from .export import write_html

        return write_html(path, [self])

    def __repr__(self):
        progress = "—" if self._attribution is None else f"{self._attribution.progress:.2f}"
        return f"Explorer(method={self.method!r}, target={self.target}, progress={progress})"

    def close(self):
        """Stop the worker (after its current chunk) and close the widget."""
        worker = getattr(self, "_worker", None)  # absent when __init__ raised
        if worker is not None:
            worker.close()
        super().close()

    # ------------------------------------------------------------------- jobs
    @t.observe("method", "target", "options")
    def _on_parameters(self, change):
        if not self._ready:
            return
        if change.name == "options" and (change.old or {}).get(self.method) == (change.new or {}).get(self.method):
            return
        self._start_job()

    def _start_job(self):
        try:
            request = self._request()
        except (ValueError, TypeError) as error:
            self._set_synced(error=describe(error))
            return
        self._set_synced(error="")
        job = make_job(self._model, self._pixels, request, self._frame_dtype, self._memory)
        self._worker.submit(job, self._publish, self._fail)

    def _request(self):
        method = self.method
        if method not in self._controls:
            raise ValueError(f"method {method!r} is not offered here; choose one of {sorted(self._controls)}.")
        target = self._check_target(self.target, self._model.num_classes)
        controls = self._controls[method]
        chosen = dict(control_specs.default_options(controls), **self.options.get(method, {}))
        values = control_specs.split_options(controls, chosen)
        baseline = None
        if method == "integrated_gradients":
            baseline = self._baseline(values["option"]["baseline"])
        self._jobs += 1
        return Request(job=self._jobs, request=self.request, method=method, explainer=METHODS[method],
                       options=values["option"], stream_options=values["stream"], widget_options=values["widget"],
                       target=target, baseline=baseline)

    def _baseline(self, name):
        """x′ for IG, resolved once per name (so a noise baseline stays put while α moves)."""
        if name not in self._baselines:
            self._baselines[name] = resolve_image_baseline(name, self._pixels)
        baseline = self._baselines[name]
        self._set_synced(baseline_image=rgb_bytes(baseline, self._range))
        return baseline

    def _publish(self, frame):
        self._attribution = frame.attribution
        values = {"frame": frame.payload, "frame_meta": frame.meta}
        if frame.gradient is not None:
            values["gradient_frame"] = frame.gradient
        self._set_synced(**values)

    def _fail(self, error):
        self._set_synced(error=describe(error))

    def _set_synced(self, **values):
        """Set synced traits from any thread; one message per call."""
        with self._sync_lock, self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)

    # ---------------------------------------------------------------- helpers
    def _one_image(self, image):
        images, single = self._model.prepare_inputs(image)
        if not single and len(images) != 1:
            raise ValueError(
                f"show() explains one image, got a batch of {len(images)}; pass images[i], or "
                "xw.compare(model, images, methods=[...]) for a gallery of a small batch."
            )
        return images[0]

    def _initial_options(self, names, options):
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"options given for method(s) {unknown} that are not offered ({names}).")
        initial = {}
        for name in names:
            values = dict(control_specs.default_options(self._controls[name]), **options.get(name, {}))
            control_specs.split_options(self._controls[name], values)  # raises on a bad value now
            initial[name] = values
        return initial

    @staticmethod
    def _check_target(target, classes, default=None):
        if target is None:
            return default
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
            raise ValueError(f"target must be a class index (int) or None; got {target!r}.")
        if classes is not None and not 0 <= target < classes:
            raise ValueError(f"target {target} is out of range: the model has {classes} classes (0 to {classes - 1}).")
        return int(target)


def describe(error):
    """An exception as the one-line message the widget shows."""
    return f"{type(error).__name__}: {error}"


def show(model, image, methods=None, target=None, class_names=None, **settings):
    """Show the attribution explorer for one image in the notebook.

    The image with the attribution heatmap over it, a target picker over the
    top-5 classes, a method picker with each method's controls (SmoothGrad
    samples and σ, IG steps / rule / baseline / order and the α scrubber, …)
    and display controls that act at once. Moving a compute slider streams
    partial results (SmoothGrad's running mean, IG's α-steps) into the cell.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        image: one image ``(H, W, C)``.
        methods: method names to offer; default: every method in ``xw.METHODS``.
        target: class to explain; ``None`` = the most probable one.
        class_names: names of the classes, shown as text.
        **settings: `Explorer` keywords (``method``, ``options``, ``title``, …).

    Returns:
        The `Explorer` widget; ``widget.attribution`` is the latest result.

    Example:
        >>> model = xw.zoo.load("shapes_cnn")
        >>> images, labels, masks = xw.zoo.shapes(4)
        >>> widget = xw.show(model, images[0], class_names=xw.zoo.SHAPES_CLASSES)
        >>> widget
    """
    return Explorer(model, image, methods=methods, target=target, class_names=class_names, **settings)
