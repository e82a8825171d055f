"""The compiled per-replica step of `summarize`: channel maxima, kept channels and influences."""

import weakref

from .._backend import keras, tf
from ..distribute import ReplicaRunner
from .influence import (block_influence, convolution_influence, first_peaks, kept_influence, summit_influence,
                        top_previous_channels)
from .layers import block_inputs, convolution_path, single_convolution

INFLUENCES = ("gradient", "summit")
INTO = ("all", "kept")

_PROBES = weakref.WeakKeyDictionary()


class SummitProbe:
    """The per-replica step: channel maxima and positions, kept channels, influences.

    ``step(images)`` returns, per chosen layer, ``maxima`` ``(N, C)``, the
    ``positions`` ``(N, C, 2)`` (row, column) of each channel's maximum and
    ``kept`` ``(N, R)``, the image's kept channels best first (−1 pads), and
    per consecutive pair ``top_influences`` ``(N, rows, top_k)``: for each
    row's next channel (every channel for ``into="all"``, the image's kept
    channels for ``into="kept"``) the previous channels of largest positive
    influence, −1 past them. All of it is per image, so shards of a batch can
    run on different replicas.

    How each pair's influences are computed depends on its structure (see
    `influence.py`): pairs joined by one convolution use
    `convolution_influence`; other pairs use `block_influence` (``into="all"``)
    or `kept_influence` (``into="kept"``).
    """

    def __init__(self, keras_model, layers, influence, into, mass, top_channels, top_k):
        self.layers = layers
        self.influence, self.into = influence, into
        self.mass, self.top_channels, self.top_k = float(mass), int(top_channels), int(top_k)
        pairs = list(zip(layers, layers[1:]))
        if influence == "summit":
            self.paths = [_summit_path(*pair) for pair in pairs]
        else:
            self.paths = [convolution_path(*pair) for pair in pairs]
        outputs = [layer.output for layer in layers]
        self._extra = []  # per pair: (first output, count) of the extra tensors it reads
        self.blocks = []
        for (previous, following), path in zip(pairs, self.paths):
            block = None
            if path is not None:
                extra = [path.convolution.input, path.convolution.output]
            elif into == "all":  # block_influence runs the block on its own
                extra = block_inputs(previous, following)
                block = keras.Model([previous.output, *extra], following.output)
            else:  # kept_influence differentiates the whole forward pass
                extra = []
            self.blocks.append(block)
            self._extra.append((len(outputs), len(extra)))
            outputs += extra
        self.features = keras.Model(keras_model.inputs, outputs, name=f"{keras_model.name}_summit")
        self.needs_tape = into == "kept" and any(path is None for path in self.paths)
        self._runners = weakref.WeakKeyDictionary()

    @classmethod
    def cached(cls, keras_model, layers, influence, into, mass, top_channels, top_k):
        """The probe for these settings, built once per model (tracing it takes seconds)."""
        per_model = _PROBES.setdefault(keras_model, {})
        key = (tuple(layer.name for layer in layers), influence, into, float(mass), int(top_channels), int(top_k))
        if key not in per_model:
            per_model[key] = cls(keras_model, layers, influence, into, mass, top_channels, top_k)
        return per_model[key]

    def runner(self, strategy, per_replica):
        """The `ReplicaRunner` that compiles `step` for ``strategy`` (one per strategy and unit, reused)."""
        runner = ReplicaRunner(strategy, per_replica, compile=True)  # checks the arguments
        return self._runners.setdefault(runner.strategy, {}).setdefault(per_replica, runner)

    def measure(self, images):
        """Activations, maxima, peaks, kept channels and the raw influences ``(N, rows, C_previous)`` of a batch.

        ``peaks`` are the flat positions of the maxima (`influence.first_peaks`).
        """
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            if self.needs_tape:
                tape.watch(images)
            tensors = self.features(images, training=False)
            activations = tensors[:len(self.layers)]
            maxima = [tf.reduce_max(activation, axis=(1, 2)) for activation in activations]
        peaks = [first_peaks(activation) for activation in activations]
        kept = [kept_channels(tf.cast(value, tf.float64), self.mass, self.top_channels) for value in maxima]
        influences = []
        for pair, path in enumerate(self.paths):
            first, count = self._extra[pair]
            extra = tensors[first:first + count]
            influences.append(self._pair_influence(pair, path, activations, maxima, peaks, kept, extra, tape))
        return {"activations": activations, "maxima": maxima, "peaks": peaks, "kept": kept,
                "influences": influences}

    def _pair_influence(self, pair, path, activations, maxima, peaks, kept, extra, tape):
        previous, chosen = activations[pair], kept[pair + 1]
        if self.influence == "summit":
            values = summit_influence(extra[0], path.convolution)
        elif path is not None:
            values = convolution_influence(previous, *extra, path, maxima[pair + 1], peaks[pair + 1])
        elif self.into == "all":
            return block_influence(previous, extra, self.blocks[pair])
        else:
            return kept_influence(tape, previous, maxima[pair + 1], chosen)
        if self.into == "all":
            return values
        rows = tf.gather(values, tf.maximum(chosen, 0), batch_dims=1)
        return tf.where(chosen[..., tf.newaxis] >= 0, rows, tf.zeros_like(rows))  # −1: no channel, no influence

    def step(self, images):
        measured = self.measure(images)
        return {
            "maxima": [tf.cast(value, tf.float32) for value in measured["maxima"]],
            "positions": [rows_and_columns(peak, tf.shape(activation)[2])
                          for peak, activation in zip(measured["peaks"], measured["activations"])],
            "kept": measured["kept"],
            "top_influences": [top_previous_channels(values, self.top_k) for values in measured["influences"]],
        }


def _summit_path(previous, following):
    path = single_convolution(previous, following)
    convolution = path.convolution
    if convolution.strides[0] != convolution.strides[1]:
        raise ValueError(
            f"influence='summit' needs a Conv2D with equal strides; {convolution.name!r} has strides="
            f"{convolution.strides}. Use influence='gradient'."
        )
    return path


def kept_channels(maxima, mass, top_channels):
    """``(N, R)`` int32: each image's counted channels, largest maximum first, −1 where none.

    The fewest channels whose shares (maxima clipped at 0, divided by their
    sum) reach ``mass``, at most ``R = min(top_channels, C)``; ties keep the
    lower channel first. Sums are running sums along each image's sorted
    maxima, so an image's channels never depend on the rest of its batch.
    """
    positive = tf.maximum(maxima, tf.zeros_like(maxima))
    order = tf.argsort(positive, axis=1, direction="DESCENDING", stable=True)
    ranked = tf.gather(positive, order, batch_dims=1)
    running = tf.math.cumsum(ranked, axis=1)
    before = running - ranked
    total = running[:, -1:]
    counted = (before < mass * total) & (ranked > 0)
    limit = min(top_channels, maxima.shape[-1])
    return tf.where(counted, order, -1)[:, :limit]


def rows_and_columns(peaks, width):
    """``(N, C, 2)``: row and column of flat positions ``row · width + column`` (e.g. `influence.first_peaks`)."""
    return tf.stack([peaks // width, peaks % width], axis=-1)
