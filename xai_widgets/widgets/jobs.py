"""What a widget job computes: the stream of frames for one set of parameters.

Most methods simply stream ``Explainer.stream(image, target)``. Two get help
from the widget so that their sliders feel continuous:

- Integrated Gradients' α scrubber. The attribution accumulated along the
  straight path from x′ up to α is itself an IG, taken to the point
  x_α = x′ + α(x − x′) with the same baseline:
  (x − x′) ∫₀^α ∇F(x′ + s(x − x′)) ds = (x_α − x′) ∫₀¹ ∇F(x′ + t(x_α − x′)) dt.
  So the job streams ``IntegratedGradients`` (``order="path"``) on x_α,
  reports the path curves on the α axis scaled by α, and sends the gradient
  at x_α alongside. Partial maps carry the scale of the last whole-path map
  (``reference``) so the front end draws them against it: the accumulated
  attribution visibly grows with α instead of being stretched to full
  contrast at every step.
- SmoothGrad's samples slider. For an unseeded mean (or squared) variant the
  running mean over n samples extends to n + k samples as
  (n·M_n + k·M_k) / (n + k), so raising the count streams only the new
  samples; any other change (σ, variant, target) restarts.
"""

import time
from dataclasses import dataclass

import numpy as np

from ..baselines import resolve_baseline
from ..methods.gradient import gradient_batch
from ..model import as_target_model
from .controls import PATH_END
from .stream import encode_frame, frame_meta, frame_scale

EXTENSIBLE_VARIANTS = ("mean", "square")
FRAMES_PER_JOB = 8  # a job of n steps or samples streams about this many frames
MIN_CHUNK = 4


@dataclass(frozen=True)
class Frame:
    """One published update: the attribution, its encoded map and meta, and IG's gradient at α."""

    attribution: object
    payload: bytes
    meta: dict
    gradient: bytes = None


@dataclass(frozen=True)
class Request:
    """Everything a job depends on."""

    job: int
    request: int
    method: str
    explainer: type
    options: dict
    stream_options: dict
    widget_options: dict
    target: int
    baseline: np.ndarray = None  # IG: the resolved x′ of the image (H, W, C)


class JobMemory:
    """What a widget's jobs keep for the next job: SmoothGrad's running mean, IG's whole-path scales."""

    def __init__(self):
        self.smoothgrad = SmoothGradMemory()
        self.path_scales = {}  # (target, baseline name) -> scale of the α = 1 IG map


class SmoothGradMemory:
    """The last running mean of a SmoothGrad stream, to extend when only the count grows."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.attribution = None

    def remember(self, key, attribution):
        self.key, self.count, self.attribution = key, int(attribution.step), attribution

    def start(self, key, samples):
        """How many samples can be reused for ``samples`` under ``key`` (0: restart)."""
        if key is None or key != self.key or self.attribution is None:
            return 0
        return self.count if self.count <= samples else 0


def make_job(model, image, request, frame_dtype="float16", memory=None):
    """A worker job for ``request``: a callable ``job(is_current)`` yielding `Frame` objects."""

    def job(is_current):
        started = time.perf_counter()
        for attribution, extra, gradient in _partials(model, image, request, memory):
            payload, shape = encode_frame(attribution.values, frame_dtype)
            elapsed = (time.perf_counter() - started) * 1000.0
            meta = frame_meta(attribution, request.job, elapsed, request=request.request, **shape, **extra)
            encoded_gradient = None if gradient is None else encode_frame(gradient, frame_dtype)[0]
            yield Frame(attribution, payload, meta, encoded_gradient)
            if not is_current():
                return

    return job


def _partials(model, image, request, memory):
    memory = memory if memory is not None else JobMemory()
    if request.method == "integrated_gradients":
        return _integrated_gradients(model, image, request, memory.path_scales)
    if request.method == "smoothgrad":
        return _smoothgrad(model, image, request, memory.smoothgrad)
    explainer = _explainer(model, request, request.options)
    return ((partial, {}, None) for partial in explainer.stream(image, request.target, **request.stream_options))


def _explainer(model, request, options):
    return request.explainer(model, batch_size=streaming_batch_size(options), **options)


def streaming_batch_size(options):
    """Chunk size that splits ``steps``/``samples`` evaluations into about `FRAMES_PER_JOB` frames.

    ``None`` (the model's own timed choice) for methods without such a count.
    """
    count = options.get("steps", options.get("samples"))
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        return None
    return max(MIN_CHUNK, -(-int(count) // FRAMES_PER_JOB))


# ------------------------------------------------------ integrated gradients
def _integrated_gradients(model, image, request, path_scales):
    alpha = float(request.widget_options.get(PATH_END, 1.0))
    baseline = request.baseline
    end = image if alpha >= 1.0 else (baseline + alpha * (image - baseline)).astype(np.float32)
    gradients, _ = gradient_batch(as_target_model(model), end[np.newaxis], np.array([request.target]))
    explainer = _explainer(model, request, dict(request.options, baseline=baseline))
    key = (request.target, request.options.get("baseline"))
    for partial in explainer.stream(end, request.target, **request.stream_options):
        extra = {"alpha": alpha, "curves": path_curves(partial.info, alpha), "reference": path_scales.get(key)}
        if alpha >= 1.0 and partial.progress >= 1.0:
            path_scales[key] = frame_scale(partial.values)
        yield partial, extra, gradients[0]


def path_curves(info, alpha=1.0):
    """IG's path figures for the chart: α, F(x′ + α(x − x′)) − F(x′) and Σ partial attributions.

    Returns ``None`` when the partial carries no path figures (``order="refine"``).
    """
    if not info or "alphas" not in info:
        return None
    alphas = np.ravel(info["alphas"]).astype(float)

    def first_image(key):
        series = np.asarray(info.get(key, np.full(len(alphas), np.nan)), dtype=float)
        return np.atleast_2d(series)[0]

    return {
        "alphas": _finite_list(alpha * alphas),
        "path_outputs": _finite_list(first_image("path_outputs")),
        "partial_sums": _finite_list(first_image("partial_sums")),
    }


def _finite_list(values):
    return [float(v) if np.isfinite(v) else None for v in values]


# ------------------------------------------------------------------ smoothgrad
def _smoothgrad(model, image, request, memory):
    options = request.options
    samples = int(options.get("samples", 50))
    key = _smoothgrad_key(request)
    reused = memory.start(key, samples)
    if reused == samples:
        yield _relabel(memory.attribution, samples, options), {"reused": reused}, None
        return
    if reused == 0:
        partials = _explainer(model, request, options).stream(image, request.target, **request.stream_options)
    else:
        extra = _explainer(model, request, dict(options, samples=samples - reused))
        partials = _extend_mean(memory.attribution, extra.stream(image, request.target, **request.stream_options),
                                samples)
    for partial in partials:
        if key is not None:
            memory.remember(key, partial)
        yield partial, {"reused": reused}, None


def _smoothgrad_key(request):
    """What must match for a running mean to be extended (None: never extend)."""
    options = request.options
    if options.get("seed") is not None or options.get("variant", "mean") not in EXTENSIBLE_VARIANTS:
        return None
    rest = tuple(sorted((name, repr(value)) for name, value in options.items() if name != "samples"))
    return (request.target, rest)


def _extend_mean(previous, partials, samples):
    """Combine a running mean over n samples with a fresh stream of k more: (n·M_n + k·M_k)/(n + k)."""
    count = int(previous.step)
    for partial in partials:
        added = int(partial.step)
        values = (count * previous.values + added * partial.values) / (count + added)
        yield _relabel(partial.with_values(values, evaluations=previous.evaluations + partial.evaluations),
                       samples, dict(partial.options, samples=samples), done=count + added)


def _relabel(attribution, samples, options, done=None):
    done = int(attribution.step) if done is None else done
    return attribution.with_values(attribution.values, step=done, total=samples, progress=done / samples,
                                   options=dict(options))


def resolve_image_baseline(name, image):
    """x′ of one image ``(H, W, C)`` for a named baseline (IG's menu)."""
    return resolve_baseline(name, image[np.newaxis], single=True)[0, 0]
