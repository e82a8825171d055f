"""The model as every method sees it: ``F(x)``, the logit of a target class.

`TargetModel` wraps a Keras 3 model (Sequential or Functional) or any callable
``tf.Tensor -> logits`` and is the one place that

- checks inputs (shape, dtype, NaN/Inf, empty batch, channel count) and targets,
- refuses a final softmax (or strips it with ``output="logits"``),
- computes the target logits and their input gradients with one compiled
  ``tf.function`` whose input signature has a free batch dimension, so that a
  different number of steps, samples or images never retraces it,
- splits large batches into chunks that bound memory, choosing the chunk size
  itself (by timing real work) when ``batch_size=None``.

Methods never call the Keras model directly; they build the inputs they need
(interpolations, noisy copies) and ask this wrapper for gradients.
"""

import time
import weakref

import numpy as np

from ._backend import keras, tf
from .overlap import computed_ahead

OUTPUT_MODES = (None, "logits")
ARGMAX = -1  # as a target of `TargetModel.gradients`: the input's own arg-max class, chosen in the same pass


class TargetModel:
    """A classifier seen as a batched function ``images -> logits``.

    Args:
        model: a Keras 3 model with one image input and one output, or any
            callable mapping a float32 ``tf.Tensor`` of shape ``(N, H, W, C)``
            to logits of shape ``(N, classes)``.
        output: ``None`` (default) takes the model's output as logits and
            refuses a final softmax; ``"logits"`` strips a final softmax.

    Example:
        >>> wrapped = TargetModel(model)
        >>> images, single = wrapped.prepare_inputs(image)
        >>> targets = wrapped.select_targets(images, None)     # arg-max classes
    """

    def __init__(self, model, output=None):
        if output not in OUTPUT_MODES:
            raise ValueError(f"output must be None or 'logits', got {output!r}.")
        if isinstance(model, TargetModel):
            raise TypeError("model is already a TargetModel; pass it without wrapping.")
        if isinstance(model, keras.Model) and _has_graph(model):
            self.keras_model = logits_model(model, strip_softmax=output == "logits")
            self.sample_shape = _declared_sample_shape(self.keras_model)
            self._call = lambda inputs: self.keras_model(inputs, training=False)
        elif isinstance(model, keras.Model):  # subclassed: no graph to inspect, a callable to differentiate
            self.keras_model = None
            self.sample_shape = None
            self._call = lambda inputs: model(inputs, training=False)
        elif callable(model):
            self.keras_model = None
            self.sample_shape = None
            self._call = model
        else:
            raise TypeError(
                f"model must be a Keras model or a callable returning logits, got {type(model).__name__}."
            )
        self.name = getattr(model, "name", None) or getattr(model, "__name__", type(model).__name__)
        self.traces = 0  # how often a compiled function was traced (tests check it stays 1)
        self._compiled = {}
        self._chunk_sizers = {}
        self.num_classes = _declared_num_classes(self.keras_model)

    # ------------------------------------------------------------------ checks
    def prepare_inputs(self, x):
        """Check ``x`` and return it as a float32 batch ``(N, H, W, C)``.

        Returns:
            ``(images, single)``: the batch, and whether ``x`` was one image
            ``(H, W, C)`` (so results can be given back in that shape).
        """
        images = _as_real_array(x, "x")
        if images.ndim not in (3, 4):
            raise ValueError(
                f"x must be one image (H, W, C) or a batch (N, H, W, C); got an array of shape {images.shape}."
            )
        single = images.ndim == 3
        if single:
            images = images[np.newaxis]
        if images.shape[0] == 0:
            raise ValueError("x is an empty batch (N = 0); pass at least one image.")
        self._check_sample_shape(images.shape[1:])
        _check_finite(images, "x")
        return images, single

    def _check_sample_shape(self, shape):
        if self.sample_shape is None:
            return
        expected = self.sample_shape
        if shape[-1] != expected[-1] and expected[-1] is not None:
            raise ValueError(
                f"x has {shape[-1]} channels but the model {self.name!r} expects {expected[-1]} "
                f"(images of shape {_shape_text(expected)}); "
                + ("convert the image to RGB." if expected[-1] == 3 else "convert the images to match.")
            )
        for got, want in zip(shape, expected):
            if want is not None and got != want:
                raise ValueError(
                    f"x has images of shape {tuple(shape)} but the model {self.name!r} expects "
                    f"{_shape_text(expected)}; resize the images first."
                )

    def select_targets(self, images, target, logits=None, batch_size=None):
        """Return the target class of every image as an int array ``(N,)``.

        ``target=None`` picks the arg-max class; an int applies to every image;
        a sequence gives one class per image.
        """
        count = len(images)
        if target is None:
            if logits is None:
                logits = self.logits(images, batch_size=batch_size)
            return np.argmax(logits, axis=1).astype(np.int32)
        targets = np.asarray(target)
        if targets.dtype == bool or not np.issubdtype(targets.dtype, np.integer):
            raise ValueError(f"target must be an int, a sequence of ints or None; got {target!r}.")
        if targets.ndim == 0:
            targets = np.full(count, int(targets))
        elif targets.ndim != 1 or len(targets) != count:
            raise ValueError(
                f"target must give one class per image: {count} image(s) but target has shape {targets.shape}."
            )
        classes = self.num_classes or self.logits(images[:1]).shape[1]
        bad = (targets < 0) | (targets >= classes)
        if bad.any():
            raise ValueError(
                f"target {int(targets[bad][0])} is out of range: the model has {classes} classes (0 to {classes - 1})."
            )
        return targets.astype(np.int32)

    # ----------------------------------------------------------------- compute
    def logits(self, images, batch_size=None):
        """Logits ``(N, classes)`` of a prepared float32 batch, computed in chunks."""
        forward = self._compiled_function("forward", images.shape[1:])
        parts = [forward(images[start:stop]).numpy() for start, stop in self.chunks(images, batch_size)]
        logits = np.concatenate(parts)
        self._check_logits(logits)
        return logits

    def gradients(self, inputs, targets, batch_size=None):
        """Yield ``(start, stop, gradients, outputs)`` chunk by chunk.

        ``gradients[i] = ∂F_{targets[i]}(inputs[i]) / ∂inputs[i]`` and
        ``outputs[i] = F_{targets[i]}(inputs[i])``, as float32 numpy arrays,
        for the rows ``start:stop`` of ``inputs``. Methods consume the chunks
        as they come, so memory stays bounded by the chunk size. ``inputs`` is
        an array, or `AffineRows` that the compiled function builds itself,
        chunk by chunk.

        The arrays are read-only views of TensorFlow's result buffers:
        ``Tensor.numpy()`` would copy every chunk, which on a small CNN costs
        2–3 % of the gradient itself; a method that keeps a chunk copies it.

        A target of `ARGMAX` (−1) asks for the arg-max class of that input,
        found in the same compiled pass (no separate forward pass); the class
        used is written back into ``targets``, which must then be an int32
        numpy array.
        """
        if isinstance(inputs, AffineRows):
            step = self._compiled_function("affine", inputs.shape[1:])
            arguments = inputs.parts
        else:
            inputs = np.asarray(inputs, dtype=np.float32)
            step = self._compiled_function("gradient", inputs.shape[1:])
            arguments = lambda start, stop: (inputs[start:stop],)  # noqa: E731
        targets, resolve = _writable_targets(targets)
        sizer = self._chunk_sizer(inputs.shape[1:], batch_size)

        def run(start, stop, chunk):
            began = time.perf_counter()
            grads, outputs, used = step(*chunk, targets[start:stop])
            if resolve:
                targets[start:stop] = used.numpy()
            return np.asarray(grads), np.asarray(outputs), time.perf_counter() - began

        if not sizer.settled:  # still timing chunk sizes: one chunk at a time, each timed alone
            for start, stop in self.chunks(inputs, batch_size):
                grads, outputs, seconds = run(start, stop, arguments(start, stop))
                sizer.record(stop - start, seconds)
                yield start, stop, grads, outputs
            return
        chunks = ((start, stop, arguments(start, stop)) for start, stop in self.chunks(inputs, batch_size))
        for (start, stop, _), (grads, outputs, _) in computed_ahead(chunks, lambda chunk: run(*chunk),
                                                                 name="xai-widgets-gradients"):
            yield start, stop, grads, outputs

    def layer_gradients(self, inputs, targets, layer, batch_size=None):
        """Yield ``(start, stop, activations, gradients, outputs)`` for a layer of the Keras model.

        ``activations[i]`` is the output A of ``layer`` (a layer of
        `keras_model`) for ``inputs[i]``, ``gradients[i] = ∂F_{targets[i]} / ∂A``
        and ``outputs[i] = F_{targets[i]}(inputs[i])`` (Grad-CAM's inputs). One
        compiled function per layer, with a free batch dimension like `gradients`,
        and `ARGMAX` targets resolved the same way.
        """
        if self.keras_model is None:
            raise ValueError(
                f"gradients with respect to a layer need a Sequential or Functional Keras model; "
                f"{self.name!r} is a callable or a subclassed model."
            )
        inputs = np.asarray(inputs, dtype=np.float32)
        targets, resolve = _writable_targets(targets)
        step = self._compiled_function("layer", inputs.shape[1:], layer)
        for start, stop in self.chunks(inputs, batch_size):
            activations, grads, outputs, used = step(inputs[start:stop], targets[start:stop])
            if resolve:
                targets[start:stop] = used.numpy()
            yield start, stop, activations.numpy(), grads.numpy(), outputs.numpy()

    def chunks(self, inputs, batch_size=None):
        """Yield ``(start, stop)`` row ranges covering ``inputs`` in chunks."""
        check_batch_size(batch_size)
        sizer = self._chunk_sizer(inputs.shape[1:], batch_size)
        start, count = 0, len(inputs)
        while start < count:
            stop = min(count, start + sizer.next_size())
            yield start, stop
            start = stop

    # --------------------------------------------------------------- internals
    def _chunk_sizer(self, sample_shape, batch_size):
        if batch_size is not None:
            return _FixedSize(batch_size)
        key = tuple(sample_shape)
        if key not in self._chunk_sizers:
            self._chunk_sizers[key] = ChunkSizer(int(np.prod(key)))
        return self._chunk_sizers[key]

    def _compiled_function(self, kind, sample_shape, layer=None):
        """The traced function of ``kind`` for inputs ``(None, *sample_shape)``, traced once and kept.

        It is the concrete function: calling it skips `tf.function`'s argument
        binding and trace-cache lookup, about 0.1–0.4 ms per chunk.
        """
        key = (kind, tuple(sample_shape), None if layer is None else id(layer))
        if key not in self._compiled:
            spec = tf.TensorSpec((None, *sample_shape), tf.float32)
            target_spec = tf.TensorSpec((None,), tf.int32)
            if kind == "forward":
                function, signature = self._forward, [spec]
            elif kind == "affine":
                index_spec, scale_spec = tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.float32)
                function, signature = self._affine_gradient, [spec, spec, index_spec, index_spec, scale_spec,
                                                              target_spec]
            elif kind == "layer":
                split = keras.Model(self.keras_model.inputs[0], [layer_output(layer), self.keras_model.outputs[0]])
                function = lambda inputs, targets: self._layer_gradient(split, inputs, targets)  # noqa: E731
                signature = [spec, target_spec]
            else:
                function, signature = self._target_gradient, [spec, target_spec]
            self._compiled[key] = tf.function(function, input_signature=signature).get_concrete_function()
        return self._compiled[key]

    def _forward(self, inputs):
        self.traces += 1
        return self._call(inputs)

    def _target_gradient(self, inputs, targets):
        self.traces += 1
        return self._gradient(inputs, targets)

    def _affine_gradient(self, bases, directions, base_index, direction_index, scale, targets):
        self.traces += 1
        scale = tf.reshape(scale, [-1] + [1] * (bases.shape.rank - 1))
        inputs = tf.gather(bases, base_index) + scale * tf.gather(directions, direction_index)
        return self._gradient(inputs, targets)

    def _gradient(self, inputs, targets):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = self._call(inputs)
            targets = _resolve_argmax(targets, logits)
            outputs = tf.gather(logits, targets, axis=1, batch_dims=1)
        return tape.gradient(outputs, inputs), outputs, targets

    def _layer_gradient(self, split, inputs, targets):
        self.traces += 1
        with tf.GradientTape() as tape:
            activations, logits = split(inputs, training=False)
            targets = _resolve_argmax(targets, logits)
            outputs = tf.gather(logits, targets, axis=1, batch_dims=1)
        return activations, tape.gradient(outputs, activations), outputs, targets

    def _check_logits(self, logits):
        if logits.ndim != 2:
            raise ValueError(
                f"the model must return logits of shape (N, classes); it returned shape {logits.shape}."
            )
        if self.num_classes is None:
            self.num_classes = logits.shape[1]


class ChunkSizer:
    """Finds the chunk size with the lowest time per input by timing real work.

    Each candidate size is compared with the best size so far in alternation
    (candidate, best, candidate, best, …, three runs each), so that load from
    other processes, which comes and goes, weighs on both alike; a size's
    first run ever is dropped (one-off costs of a new shape) and the fastest
    of its other runs counts. A candidate replaces the best when it is faster
    per input, by any margin: larger chunks only amortise fixed costs until
    caches overflow, so the time per input is flat near the optimum and a
    margin (e.g. "keep the smaller size unless the larger is 3 % faster")
    stops the search early on a 2-core machine, where MobileNetV2 runs 8 %
    faster in chunks of 48 than of 16 in steps of 3–5 %. Candidates double
    from 8 while each wins; if doubling never beat 8, they halve instead
    while each wins (on two CPU cores a large network can be fastest in
    chunks of 8 or fewer); then the sizes halfway to the best one's
    neighbours are tried (e.g. 48 and 24 around 32). Until settled, chunks
    run at the sizes being compared; afterwards always at the best one. The
    largest candidate is bounded by memory: about 64 MB of input floats per
    chunk.
    """

    FIRST = 8
    RUNS_PER_SIZE = 3

    def __init__(self, floats_per_input):
        self.limit = int(max(1, min(256, (16 * 2**20) // max(1, floats_per_input))))
        self.best = min(self.FIRST, self.limit)
        self.size = self.best
        self.settled = False
        self._phase = "grow"  # then "shrink" (only if doubling never beat the first size), then "refine"
        self._tried = {self.best}
        self._runs = {}  # size -> seconds per input of its runs in the current comparison
        self._seen = set()  # sizes whose first (dropped) run is done
        self._candidate = self.best * 2
        if self._candidate > self.limit:  # no room to grow: try smaller chunks straight away
            self._phase, self._candidate = "shrink", (self.best // 2 or None)
        self._schedule = []
        self._compare_next()

    def next_size(self):
        return self.size

    def record(self, count, seconds):
        if self.settled or count != self.size:
            return
        if self.size in self._seen:
            self._runs.setdefault(self.size, []).append(seconds / count)
        self._seen.add(self.size)
        self._schedule.pop(0)
        if self._schedule:
            self.size = self._schedule[0]
            return
        ratio = min(self._runs[self._candidate]) / min(self._runs[self.best])
        self._candidate = self._following(self._candidate, ratio)
        self._compare_next()

    def _compare_next(self):
        """Start timing the candidate against the best, or settle when there is none."""
        if self._candidate is None:
            self.size, self.settled = self.best, True
            return
        self._tried.add(self._candidate)
        self._runs = {}
        self._schedule = [self._candidate, self.best] * self.RUNS_PER_SIZE
        for size in (self._candidate, self.best):  # a size's first run ever is dropped: one more for it
            if size not in self._seen:
                self._schedule.insert(0, size)
        self.size = self._schedule[0]

    def _following(self, candidate, ratio):
        """Adopt ``candidate`` if it wins (``ratio`` = its time / the best's) and return the next one, or None."""
        adopted = ratio < 1.0
        if adopted:
            self.best = candidate
        first = min(self.FIRST, self.limit)
        if self._phase == "grow":
            if adopted and candidate * 2 <= self.limit:
                return candidate * 2
            self._phase = "shrink" if self.best == first and first > 1 else "refine"
            if self._phase == "shrink":
                return first // 2
        if self._phase == "shrink":
            if adopted and candidate > 1:
                return candidate // 2
            self._phase = "refine"
        for halfway, neighbour in ((self.best * 3 // 2, self.best * 2), (self.best * 3 // 4, self.best // 2)):
            if neighbour in self._tried and halfway not in self._tried and halfway not in (self.best, neighbour):
                return halfway
        return None


class AffineRows:
    """Rows ``bases[a_r] + scale_r · directions[b_r]``, built inside the compiled gradient.

    Integrated Gradients' points x′_p + α_r (x_p − x′_p) and SmoothGrad's
    noisy copies x_i + σ_i ε_s both have this form, with few distinct bases
    and directions. Handing `TargetModel.gradients` these parts instead of
    the rows spares a numpy pass that writes every row and the copy
    TensorFlow makes of a numpy input; the compiled function builds the
    chunk's rows itself. Parts that every chunk shares can be given as
    tensors, made once, so that no chunk converts them again.

    Args:
        count: number of rows.
        sample_shape: shape of one row, e.g. ``(H, W, C)``.
        parts: ``parts(start, stop)`` returns, for the rows ``start:stop``,
            ``(bases, directions, base_index, direction_index, scale)``:
            float32 arrays or tensors ``(B, *sample_shape)`` and
            ``(M, *sample_shape)``, int32 indices into them and the float32
            scales, one per row. It is called for consecutive row ranges,
            in order.
    """

    def __init__(self, count, sample_shape, parts):
        self.shape = (int(count), *sample_shape)
        self.parts = parts

    def __len__(self):
        return self.shape[0]


class _FixedSize:
    settled = True

    def __init__(self, size):
        self.size = size

    def next_size(self):
        return self.size

    def record(self, count, seconds):
        pass


# ------------------------------------------------------------------ helpers
_WRAPPERS = weakref.WeakKeyDictionary()


def as_target_model(model, output=None):
    """Return the cached `TargetModel` for ``model`` (so compiled code is reused)."""
    if isinstance(model, TargetModel):
        return model
    try:
        per_model = _WRAPPERS.setdefault(model, {})
    except TypeError:  # not weak-referenceable: wrap afresh
        return TargetModel(model, output=output)
    if output not in per_model:
        per_model[output] = TargetModel(model, output=output)
    return per_model[output]


def layer_output(layer):
    """The symbolic output of ``layer`` in the model that calls it.

    A nested model's own ``output`` is the tensor inside it; the base
    `keras.layers.Layer` property gives the one in the enclosing graph.
    """
    return keras.layers.Layer.output.fget(layer)


def _writable_targets(targets):
    """``targets`` as int32 and whether it holds `ARGMAX` entries (then it must be the caller's own array)."""
    array = np.asarray(targets, dtype=np.int32)
    resolve = bool((array == ARGMAX).any())
    if resolve and array is not targets:  # the caller would never see the classes used
        raise ValueError("targets holding ARGMAX must be an int32 numpy array; the classes used go into it.")
    return array, resolve


def _resolve_argmax(targets, logits):
    """In a compiled pass: `ARGMAX` targets replaced by each input's arg-max class."""
    return tf.where(targets == ARGMAX, tf.argmax(logits, axis=1, output_type=tf.int32), targets)


def check_batch_size(batch_size):
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int or None (chosen automatically); got {batch_size!r}.")


def logits_model(model, strip_softmax=False):
    """Return ``model`` if it ends in logits; strip or refuse a final softmax."""
    if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
        raise ValueError(
            f"model {model.name!r} must have exactly one input and one output; wrap it in a "
            "callable that maps images to the logits you want to explain."
        )
    final = model.outputs[0]._keras_history.operation
    if not _is_softmax(final):
        return model
    if not strip_softmax:
        raise ValueError(
            f"model {model.name!r} ends in a softmax (layer {final.name!r}); attributions must be "
            "computed on logits. Build the model with `classifier_activation=None` (keras.applications) "
            "or without the final softmax, or pass output='logits' to strip it."
        )
    before = final.input
    if isinstance(final, (keras.layers.Softmax, keras.layers.Activation)):
        return keras.Model(model.inputs, before, name=f"{model.name}_logits")
    config = dict(final.get_config(), activation="linear", name=f"{final.name}_logits")
    linear = type(final).from_config(config)
    outputs = linear(before)
    linear.set_weights(final.get_weights())
    return keras.Model(model.inputs, outputs, name=f"{model.name}_logits")


def _has_graph(model):
    """Whether ``model`` is a Sequential/Functional graph (a subclassed model has none)."""
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def _is_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) == "softmax"


def _declared_sample_shape(model):
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(
            f"model {model.name!r} takes inputs of shape {shape}; xai-widgets explains image models "
            "with inputs (N, H, W, C)."
        )
    return shape[1:]


def _declared_num_classes(model):
    if model is None:
        return None
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2:
        raise ValueError(
            f"model {model.name!r} returns shape {shape}; it must return logits of shape (N, classes)."
        )
    return shape[1]


def _as_real_array(value, name):
    if isinstance(value, tf.Tensor):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers (an int or float dtype); got dtype {array.dtype}.")
    return array.astype(np.float32, copy=False)


def _check_finite(array, name):
    finite = np.isfinite(array)
    if not finite.all():
        bad_images = np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))
        raise ValueError(
            f"{name} contains NaN or Inf values ({int((~finite).sum())} of them, in image(s) "
            f"{bad_images[:5].tolist()}); clean or drop those images first."
        )


def _shape_text(shape):
    return "(" + ", ".join("any" if size is None else str(size) for size in shape) + ")"
