"""Summit: what a CNN's channels detect, class by class, and how they connect.

Hohman, Park, Robinson and Chau (2019), "Summit: Scaling Deep Learning
Interpretability by Visualizing Activation and Attribution Summarizations",
IEEE VIS. One pass over a labelled data set aggregates, per class, which
channels fire and which channels feed them; the attribution graph of a class
is read off these counts.

For an image of class c and a chosen layer with activations A (H × W × C):

    m_k  = max_{u,v} A_{u,v,k}                    channel k's spatial maximum
    m̂_k = max(m_k, 0) / Σ_k' max(m_k', 0)         normalised
    kept = the fewest channels, largest m̂ first, whose m̂ add up to `mass`,
           at most `top_channels` of them
    activations[c, k] += 1 for every kept k         (aggregated activation matrix)

Between consecutive chosen layers, previous A (channels i) and next B with
spatial maxima M_j:

    influence="gradient":  I_ji = Σ_{u,v} A_{u,v,i} · ∂M_j / ∂A_{u,v,i}
    influence="summit":    I_ji = max_{u,v} (A_{:,:,i} ⋆ K_{:,:,i,j})_{u,v}
    influences[c, j, i] += 1 for the `top_k` largest positive I_ji of every
                             kept channel j of the next layer

"gradient" is activation × gradient and works across any blocks between the
layers; "summit" is the paper's definition, for layers joined by a single
convolution with kernel K (⋆ is that convolution, one input channel at a time).
Influences are counted into the image's kept channels only: those are the
channels the activation matrix counts and the graph is made of, and each
costs one backward pass, so the run costs `top_channels` backward passes per
layer pair instead of one per channel.

The attribution graph of a class is a personalised PageRank over the
influence counts, personalised by the class's activation counts; each layer
keeps its best-scoring channels, the same number per layer, growing until
consecutive layers connect.
"""

import json
import weakref
from dataclasses import dataclass, field

import numpy as np

from ._backend import keras, tf
from .distribute import DEFAULT_BATCH_SIZE, ReplicaRunner, batches, count_images
from .model import as_target_model
from .render import as_display_image

INFLUENCES = ("gradient", "summit")
MAX_DEFAULT_LAYERS = 4
THUMBNAIL = 32
FORMAT_VERSION = 1
CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
# Layers that act on every channel on its own, allowed between the layers of a
# "summit" pair next to their single convolution.
CHANNELWISE = (
    keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.ELU, keras.layers.PReLU, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise, keras.layers.ZeroPadding2D,
    keras.layers.Identity,
)
# Layers that only subsample, pad or crop the layer before them: never chosen by `default_layers`.
RESAMPLING = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.ZeroPadding2D,
              keras.layers.Cropping2D)
SUMMIT_FLOATS_PER_IMAGE = 2**20  # bounds the per-channel convolution outputs held at once


# ------------------------------------------------------------------- summarize
def summarize(model, data, layers=None, *, strategy=None, batch_size=None, mass=0.5, top_channels=8,
              top_k=5, influence="gradient", examples=5, progress=True):
    """Summit summaries of a labelled data set: activation and influence counts per class.

    One pass over ``data``, in batches; memory is bounded by classes ×
    channels (plus the sparse influence counts and the top examples), never by
    the number of images.

    Args:
        model: a Keras model ending in logits.
        data: ``(images, labels)`` arrays or a ``tf.data.Dataset`` of
            ``(image, label)`` pairs, unbatched or batched.
        layers: names (or layer objects) of the layers to summarise, in graph
            order. ``None`` applies the rule of `default_layers`: the last
            feature map of every spatial resolution after the first
            convolution, at most the 4 deepest.
        strategy: a ``tf.distribute.Strategy``; results equal one device's.
        batch_size: images per replica and step; ``None`` uses 32. The
            data is cut into units of this size, computed the same way on any
            number of replicas.
        mass: share of an image's total (normalised) channel maxima that its
            counted channels must reach, in (0, 1].
        top_channels: at most this many channels counted per image and layer
            (the cost of ``influence="gradient"`` grows with it).
        top_k: previous-layer channels counted per kept next-layer channel and image.
        influence: ``"gradient"`` (activation × gradient, any blocks between
            the layers) or ``"summit"`` (the paper's definition; consecutive
            layers must be joined by one ``Conv2D``).
        examples: top images kept per channel (with their receptive-field crop).
        progress: ``True`` shows a tqdm bar if tqdm is installed;
            a callable is called as ``progress(images_done, images_total)``
            (``images_total`` may be ``None``); ``False`` stays silent.

    Returns:
        A `Summary`.

    Example:
        >>> images, labels, _ = xw.zoo.shapes(2000)
        >>> summary = xw.summarize(xw.zoo.load("shapes_resnet"), (images, labels))
        >>> summary.activations[-1][labels[0]]     # counts of the last layer's channels
        >>> summary.graph(0).nodes[:3]
    """
    _check_options(mass, top_channels, top_k, influence, examples)
    target = as_target_model(model)
    if target.keras_model is None:
        raise ValueError("summarize needs a Keras model (it reads intermediate layers); got a plain callable.")
    keras_model = target.keras_model
    chosen = resolve_layers(keras_model, layers)
    probe = SummitProbe.cached(keras_model, chosen, influence, mass, top_channels)
    fields = receptive_fields(keras_model, chosen)
    builder = SummaryBuilder(keras_model, chosen, fields, target.num_classes, top_k, examples)
    runner = probe.runner(strategy, DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
    report = _progress_reporter(progress, count_images(data))
    try:
        for images, labels in batches(data, target, runner.global_batch, labels_required=True):
            builder.check_labels(labels)
            builder.add(images, labels, runner.run(probe.step, images))
            report(builder.images)
    finally:
        report(None)
    return builder.summary(dict(mass=mass, top_channels=top_channels, top_k=top_k, influence=influence,
                                examples=examples))


def _check_options(mass, top_channels, top_k, influence, examples):
    if isinstance(mass, bool) or not isinstance(mass, (int, float)) or not 0 < mass <= 1:
        raise ValueError(f"mass must be a number in (0, 1], the share of activation to count; got {mass!r}.")
    for name, value in (("top_channels", top_channels), ("top_k", top_k), ("examples", examples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    if influence not in INFLUENCES:
        raise ValueError(f"influence must be one of {INFLUENCES}; got {influence!r}.")


def _progress_reporter(progress, total):
    """``report(images_done)`` during the run and ``report(None)`` at its end."""
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return lambda done: None
        bar = tqdm(total=total, unit="image", desc="summarize")
        return lambda done: bar.close() if done is None else bar.update(done - bar.n)
    if callable(progress):
        return lambda done: None if done is None else progress(done, total)
    if progress in (False, None):
        return lambda done: None
    raise ValueError(f"progress must be True, False or a callable progress(done, total); got {progress!r}.")


# ---------------------------------------------------------------------- layers
def default_layers(keras_model):
    """The layers ``summarize`` uses when ``layers=None``.

    Rule: among the layers with a 4-D output ``(N, H, W, C)`` that come after
    a convolution (pooling, padding and cropping layers excepted: they only
    resample the layer before them), take for every spatial resolution
    ``(H, W)`` the last one in graph order, i.e. the output of each stage just
    before the resolution drops (and the last feature map before global
    pooling or flattening); keep the `MAX_DEFAULT_LAYERS` (4) deepest of these.

    Returns:
        A list of Keras layers, in graph order.
    """
    after_convolution = set()
    last_at_resolution = {}
    for layer in keras_model.layers:
        if isinstance(layer, CONVOLUTIONS) or any(parent in after_convolution for parent in _parents(layer)):
            after_convolution.add(layer)
            shape = _output_shape(layer)
            if shape is not None and not isinstance(layer, RESAMPLING):
                last_at_resolution[shape[1:3]] = layer
    chosen = sorted(last_at_resolution.values(), key=keras_model.layers.index)
    if not chosen:
        raise ValueError(f"model {keras_model.name!r} has no convolutional feature maps (N, H, W, C) to summarise.")
    return chosen[-MAX_DEFAULT_LAYERS:]


def resolve_layers(keras_model, layers):
    """Turn ``layers`` (names, layers or ``None``) into checked layers in graph order."""
    if layers is None:
        return default_layers(keras_model)
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    resolved = []
    for item in layers:
        layer = keras_model.get_layer(item) if isinstance(item, str) else item
        if layer not in keras_model.layers:
            raise ValueError(f"layer {getattr(layer, 'name', layer)!r} is not a layer of model {keras_model.name!r}.")
        if _output_shape(layer) is None:
            raise ValueError(
                f"layer {layer.name!r} has output shape {layer.output.shape}; Summit summarises feature maps "
                "(N, H, W, C) — choose convolutional layers."
            )
        resolved.append(layer)
    if not resolved or len(set(resolved)) != len(resolved):
        raise ValueError(f"layers must name distinct layers, at least one; got {[layer.name for layer in resolved]}.")
    for previous, following in zip(resolved, resolved[1:]):
        if previous not in _ancestors(following):
            raise ValueError(
                f"layer {following.name!r} does not depend on {previous.name!r}; list the layers in graph "
                "order, each one downstream of the one before."
            )
    return resolved


def _parents(layer):
    if isinstance(layer, keras.layers.InputLayer):
        return []
    return [tensor._keras_history.operation for tensor in _as_list(layer.input)]


def _ancestors(layer):
    found, pending = set(), list(_parents(layer))
    while pending:
        parent = pending.pop()
        if parent not in found:
            found.add(parent)
            pending.extend(_parents(parent))
    return found


def _output_shape(layer):
    outputs = _as_list(layer.output)
    if len(outputs) != 1 or len(outputs[0].shape) != 4:
        return None
    return tuple(outputs[0].shape)


def _as_list(tensors):
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def single_convolution(previous, following):
    """The one ``Conv2D`` joining ``previous`` to ``following`` (for ``influence="summit"``).

    Between them only that convolution and channel-wise layers (BatchNorm,
    activations, pooling, dropout, padding) may lie, on a single path.
    """
    path, layer = [], following
    while layer is not previous:
        parents = _parents(layer)
        if len(parents) != 1:
            raise ValueError(
                f"influence='summit' needs layers joined by one convolution, but {layer.name!r} between "
                f"{previous.name!r} and {following.name!r} merges {len(parents)} inputs; use "
                "influence='gradient', which works across any blocks."
            )
        path.append(layer)
        layer = parents[0]
    convolutions = [layer for layer in path if isinstance(layer, CONVOLUTIONS)]
    others = [layer for layer in path if not isinstance(layer, CONVOLUTIONS + CHANNELWISE)]
    if len(convolutions) != 1 or type(convolutions[0]) is not keras.layers.Conv2D or others:
        raise ValueError(
            f"influence='summit' needs {previous.name!r} and {following.name!r} joined by exactly one Conv2D "
            f"and channel-wise layers; found {[layer.name for layer in reversed(path)]}. Use influence='gradient'."
        )
    convolution = convolutions[0]
    if convolution.groups != 1 or convolution.strides[0] != convolution.strides[1]:
        raise ValueError(
            f"influence='summit' needs an ungrouped Conv2D with equal strides; {convolution.name!r} has "
            f"groups={convolution.groups}, strides={convolution.strides}. Use influence='gradient'."
        )
    return convolution


# ------------------------------------------------------------ receptive fields
@dataclass(frozen=True)
class ReceptiveField:
    """Where a feature-map position looks in the input, per axis (rows, columns).

    Position ``p`` covers the input pixels ``offset + p·jump`` up to (not
    including) ``offset + p·jump + size``; ``offset`` may be negative (padding).
    """

    jump: tuple
    offset: tuple
    size: tuple

    def box(self, row, column):
        """``(top, left, bottom, right)`` in input pixels of the position ``(row, column)``."""
        top = self.offset[0] + row * self.jump[0]
        left = self.offset[1] + column * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]


PIXEL = ReceptiveField((1, 1), (0, 0), (1, 1))


def receptive_fields(keras_model, layers):
    """The `ReceptiveField` of every layer in ``layers`` (``None`` where unknown).

    Walks the graph from the input: convolutions and pooling grow the field
    (kernel, stride, dilation, padding), padding and cropping layers shift it,
    layers that keep the resolution pass it on (merges take the union). A layer
    of any other kind that changes the resolution makes the field unknown, and
    the examples then show the whole image.
    """
    fields = {id(tensor): PIXEL for tensor in keras_model.inputs}
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = _as_list(layer.input)
        known = [fields.get(id(tensor)) for tensor in inputs]
        result = None if any(item is None for item in known) else _layer_field(layer, inputs, known)
        for tensor in _as_list(layer.output):
            fields[id(tensor)] = result
    return [fields.get(id(layer.output)) for layer in layers]


def _layer_field(layer, inputs, known):
    output_shape = _output_shape(layer)
    if output_shape is None or any(len(tensor.shape) != 4 for tensor in inputs):
        return None
    window = _window(layer)
    if window is not None:
        return _grow(known[0], inputs[0].shape[1:3], output_shape[1:3], *window)
    shift = _shift(layer)
    if shift is not None:
        field = known[0]
        offset = tuple(field.offset[axis] + shift[axis] * field.jump[axis] for axis in range(2))
        return ReceptiveField(field.jump, offset, field.size)
    same_resolution = all(tuple(tensor.shape[1:3]) == output_shape[1:3] for tensor in inputs)
    if not same_resolution or len({field.jump for field in known}) != 1:
        return None
    offset = tuple(min(field.offset[axis] for field in known) for axis in range(2))
    end = tuple(max(field.offset[axis] + field.size[axis] for field in known) for axis in range(2))
    return ReceptiveField(known[0].jump, offset, tuple(end[axis] - offset[axis] for axis in range(2)))


def _window(layer):
    """``(kernel, strides, dilation, padding)`` of a sliding-window layer, else ``None``."""
    if isinstance(layer, CONVOLUTIONS):
        return layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return layer.pool_size, layer.strides, (1, 1), layer.padding
    return None


def _shift(layer):
    """How far a padding (−) or cropping (+) layer moves position 0, per axis, in input units."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return tuple(-pad[0] for pad in layer.padding)
    if isinstance(layer, keras.layers.Cropping2D):
        return tuple(crop[0] for crop in layer.cropping)
    return None


def _grow(field, input_size, output_size, kernel, strides, dilation, padding):
    jump, offset, size = [], [], []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        before = 0
        if padding == "same":
            known = input_size[axis] is not None and output_size[axis] is not None
            total = (output_size[axis] - 1) * strides[axis] + span - input_size[axis] if known else span - 1
            before = max(total, 0) // 2
        jump.append(field.jump[axis] * strides[axis])
        offset.append(field.offset[axis] - before * field.jump[axis])
        size.append(field.size[axis] + (span - 1) * field.jump[axis])
    return ReceptiveField(tuple(jump), tuple(offset), tuple(size))


# ------------------------------------------------------------------ the probe
_PROBES = weakref.WeakKeyDictionary()


class SummitProbe:
    """The per-replica step: channel maxima and positions, kept channels, influences.

    ``step(images)`` returns, per chosen layer, ``maxima`` ``(N, C)``, the
    ``positions`` ``(N, C, 2)`` (row, column) of each channel's maximum and
    ``kept`` ``(N, R)``, the image's kept channels best first (−1 pads), and
    per consecutive pair ``influences`` ``(N, R_next, C_previous)``: the
    influence of every previous channel on each kept next channel. All of it
    is per image, so shards of a batch can run on different replicas.
    """

    def __init__(self, keras_model, layers, influence, mass, top_channels):
        self.layers = layers
        self.influence = influence
        self.mass, self.top_channels = float(mass), int(top_channels)
        pairs = list(zip(layers, layers[1:]))
        self.convolutions = [single_convolution(*pair) for pair in pairs] if influence == "summit" else []
        outputs = [layer.output for layer in layers] + [layer.input for layer in self.convolutions]
        self.features = keras.Model(keras_model.inputs, outputs, name=f"{keras_model.name}_summit")
        self._runners = weakref.WeakKeyDictionary()

    @classmethod
    def cached(cls, keras_model, layers, influence, mass, top_channels):
        """The probe for these settings, built once per model (tracing it takes seconds)."""
        per_model = _PROBES.setdefault(keras_model, {})
        key = (tuple(layer.name for layer in layers), influence, float(mass), int(top_channels))
        if key not in per_model:
            per_model[key] = cls(keras_model, layers, influence, mass, top_channels)
        return per_model[key]

    def runner(self, strategy, per_replica):
        """The `ReplicaRunner` that compiles `step` for ``strategy`` (one per strategy and unit, reused)."""
        runner = ReplicaRunner(strategy, per_replica, compile=True)  # checks the arguments
        return self._runners.setdefault(runner.strategy, {}).setdefault(per_replica, runner)

    def step(self, images):
        with tf.GradientTape(persistent=True) as tape:
            tensors = self.features(images, training=False)
            activations = tensors[:len(self.layers)]
            maxima = [tf.reduce_max(activation, axis=(1, 2)) for activation in activations]
        kept = [kept_channels(tf.cast(value, tf.float64), self.mass, self.top_channels) for value in maxima]
        if self.influence == "gradient":
            influences = [gradient_influence(tape, previous, following, channels)
                          for previous, following, channels in zip(activations, maxima[1:], kept[1:])]
        else:
            inputs = tensors[len(self.layers):]
            influences = [tf.gather(summit_influence(tf.cast(x, tf.float32), convolution),
                                    tf.maximum(channels, 0), batch_dims=1)
                          for x, convolution, channels in zip(inputs, self.convolutions, kept[1:])]
        return {
            "maxima": [tf.cast(value, tf.float32) for value in maxima],
            "positions": [_argmax_positions(activation) for activation in activations],
            "kept": kept,
            "influences": influences,
        }


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


def _argmax_positions(activation):
    """``(N, C, 2)``: row and column of each channel's spatial maximum (the first one on ties)."""
    shape = tf.shape(activation)
    flat = tf.reshape(activation, (shape[0], shape[1] * shape[2], shape[3]))
    index = tf.argmax(flat, axis=1, output_type=tf.int32)
    return tf.stack([index // shape[2], index % shape[2]], axis=-1)


def gradient_influence(tape, previous, next_maxima, channels):
    """``I[n, r, i] = Σ_{u,v} A[n,u,v,i] · ∂M[n, j] / ∂A[n,u,v,i]`` with ``j = channels[n, r]``.

    One backward pass per rank r, from the next layer's maxima back to
    ``previous`` only, seeded with a one-hot on each image's r-th kept
    channel (an all-zero seed, hence zero influence, where it has none).
    """
    rows = []
    for rank in range(channels.shape[1]):
        seed = tf.one_hot(channels[:, rank], next_maxima.shape[-1], dtype=next_maxima.dtype)
        gradient = tape.gradient(next_maxima, previous, output_gradients=seed,
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)
        rows.append(tf.reduce_sum(tf.cast(gradient * previous, tf.float32), axis=(1, 2)))
    return tf.stack(rows, axis=1)


def summit_influence(inputs, convolution):
    """``I[n, j, i] = max_{u,v} (x_i ⋆ K_{:,:,i,j})_{u,v}``: Summit's influence through one convolution.

    A depthwise convolution with the full kernel as channel multiplier gives
    every (i, j) map at once; output channels are processed in groups that
    bound the memory per image.
    """
    kernel = tf.cast(convolution.kernel, tf.float32)
    previous, following = kernel.shape[2:]
    output_area = int(np.prod([size or 1 for size in convolution.output.shape[1:3]]))
    group = max(1, min(following, SUMMIT_FLOATS_PER_IMAGE // max(1, output_area * previous)))
    stride = convolution.strides[0]
    parts = []
    for start in range(0, following, group):
        maps = tf.nn.depthwise_conv2d(
            inputs, kernel[..., start:start + group], strides=(1, stride, stride, 1),
            padding=convolution.padding.upper(), dilations=convolution.dilation_rate,
        )
        width = min(group, following - start)
        maxima = tf.reduce_max(maps, axis=(1, 2))
        parts.append(tf.reshape(maxima, (-1, previous, width)))
    return tf.transpose(tf.concat(parts, axis=2), (0, 2, 1))


# -------------------------------------------------------------- aggregation
def top_influences(influences, channels, top_k):
    """``(image, next, previous)`` index arrays of the ``top_k`` largest positive influences into kept channels.

    Args:
        influences: ``(N, R, C_previous)``, row r of an image for its r-th kept channel.
        channels: ``(N, R)`` the kept channels, −1 for none.
        top_k: previous channels counted per kept channel.
    """
    influences = np.where((channels >= 0)[..., np.newaxis], influences, 0.0)
    order = np.argsort(-influences, axis=2, kind="stable")[..., :top_k]
    values = np.take_along_axis(influences, order, axis=2)
    image, rank, place = np.nonzero(values > 0)
    return image, channels[image, rank], order[image, rank, place]


class SparseCounts:
    """Integer counts on a ``(classes, next, previous)`` grid, stored as sorted flat keys and counts."""

    def __init__(self, shape, keys=None, counts=None):
        self.shape = tuple(int(size) for size in shape)
        self.keys = np.zeros(0, np.int64) if keys is None else np.asarray(keys, np.int64)
        self.counts = np.zeros(0, np.int64) if counts is None else np.asarray(counts, np.int64)

    def add(self, classes, following, previous):
        new = np.ravel_multi_index((classes, following, previous), self.shape).astype(np.int64)
        keys, inverse = np.unique(np.concatenate([self.keys, new]), return_inverse=True)
        counts = np.zeros(len(keys), np.int64)
        np.add.at(counts, inverse, np.concatenate([self.counts, np.ones(len(new), np.int64)]))
        self.keys, self.counts = keys, counts

    def entries(self, class_index):
        """``(next, previous, count)`` arrays of one class's nonzero counts."""
        classes, following, previous = np.unravel_index(self.keys, self.shape)
        chosen = classes == class_index
        return following[chosen], previous[chosen], self.counts[chosen]

    def dense(self, class_index=None):
        """The counts as a dense array: ``(next, previous)`` of one class, or all ``(classes, next, previous)``."""
        if class_index is not None:
            grid = np.zeros(self.shape[1:], np.int64)
            following, previous, counts = self.entries(class_index)
            grid[following, previous] = counts
            return grid
        grid = np.zeros(int(np.prod(self.shape)), np.int64)
        grid[self.keys] = self.counts
        return grid.reshape(self.shape)


@dataclass
class Examples:
    """The top images of every channel of one layer, best first (``index`` −1 marks an empty slot).

    Attributes:
        values: channel maximum in that image ``(C, k)``.
        index: position of the image in the data ``(C, k)``.
        labels: its class ``(C, k)``.
        boxes: receptive-field crop ``(top, left, bottom, right)`` in input pixels ``(C, k, 4)``.
        thumbnails: the crops, resized, uint8 RGB ``(C, k, T, T, 3)``.
    """

    values: np.ndarray
    index: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    thumbnails: np.ndarray

    @classmethod
    def empty(cls, channels, count, size=THUMBNAIL):
        return cls(
            values=np.full((channels, count), -np.inf, np.float32),
            index=np.full((channels, count), -1, np.int64),
            labels=np.full((channels, count), -1, np.int64),
            boxes=np.zeros((channels, count, 4), np.int32),
            thumbnails=np.zeros((channels, count, size, size, 3), np.uint8),
        )

    def merge(self, maxima, positions, images, labels, first_index, field):
        """Keep the best of the current examples and a batch's images (value, then earlier image first)."""
        channels, count = self.values.shape
        batch_values = np.where(maxima > 0, maxima, -np.inf).T.astype(np.float32)
        batch_index = np.broadcast_to(first_index + np.arange(len(maxima)), batch_values.shape)
        values = np.concatenate([self.values, batch_values], axis=1)
        index = np.concatenate([self.index, batch_index], axis=1)
        chosen = np.lexsort((index, -values), axis=1)[:, :count]
        merged = self._take(chosen)
        shown = {}
        for channel, slot in zip(*np.nonzero(chosen >= count)):
            image = chosen[channel, slot] - count
            if not np.isfinite(batch_values[channel, image]):
                continue
            if image not in shown:
                shown[image] = display_pixels(images[image])
            box = _box(field, positions[image, channel], images.shape[1:3])
            merged.values[channel, slot] = batch_values[channel, image]
            merged.index[channel, slot] = first_index + image
            merged.labels[channel, slot] = labels[image]
            merged.boxes[channel, slot] = box
            merged.thumbnails[channel, slot] = thumbnail(shown[image], box, self.thumbnails.shape[2])
        return merged

    def _take(self, chosen):
        """The examples in the slots ``chosen`` (slot numbers past the end give empty slots)."""
        channels, count = self.values.shape
        rows = np.arange(channels)[:, np.newaxis]
        taken = Examples(*(array[rows, np.minimum(chosen, count - 1)] for array in self._arrays()))
        fresh = chosen >= count
        taken.values[fresh], taken.index[fresh], taken.labels[fresh] = -np.inf, -1, -1
        taken.boxes[fresh], taken.thumbnails[fresh] = 0, 0
        return taken

    def _arrays(self):
        return self.values, self.index, self.labels, self.boxes, self.thumbnails


def _box(field, position, image_size):
    if field is None:
        return 0, 0, image_size[0], image_size[1]
    return field.box(int(position[0]), int(position[1]))


def display_pixels(image):
    """An image as uint8 RGB for thumbnails; other channel counts than 1 or 3 show their mean as grey."""
    if image.shape[-1] not in (1, 3):
        image = image.mean(axis=-1, keepdims=True)
    return np.round(as_display_image(image) * 255).astype(np.uint8)


def thumbnail(display, box, size=THUMBNAIL):
    """The ``box`` of a uint8 RGB image, nearest-neighbour resampled to ``size`` × ``size`` (outside it: grey)."""
    top, left, bottom, right = (int(value) for value in box)
    centres = (np.arange(size) + 0.5) / size
    rows = top + np.floor(centres * (bottom - top)).astype(np.int64)
    columns = left + np.floor(centres * (right - left)).astype(np.int64)
    height, width = display.shape[:2]
    crop = display[np.clip(rows, 0, height - 1)[:, np.newaxis], np.clip(columns, 0, width - 1)[np.newaxis, :]]
    outside = ((rows < 0) | (rows >= height))[:, np.newaxis] | ((columns < 0) | (columns >= width))[np.newaxis, :]
    crop[outside] = 128
    return crop


class SummaryBuilder:
    """The running sums of one `summarize` pass; `add` takes one batch's gathered probe results."""

    def __init__(self, keras_model, layers, fields, num_classes, top_k, examples):
        self.model_name = keras_model.name
        self.layers = [layer.name for layer in layers]
        self.channels = [int(layer.output.shape[-1]) for layer in layers]
        self.fields = fields
        self.num_classes = int(num_classes)
        self.top_k = top_k
        self.class_counts = np.zeros(self.num_classes, np.int64)
        self.activations = [np.zeros((self.num_classes, channels), np.int64) for channels in self.channels]
        self.influences = [SparseCounts((self.num_classes, following, previous))
                           for previous, following in zip(self.channels, self.channels[1:])]
        self.examples = [Examples.empty(channels, examples) for channels in self.channels]
        self.images = 0

    def check_labels(self, labels):
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f"label {bad[0]} is out of range: the model has {self.num_classes} classes "
                             f"(0 to {self.num_classes - 1}).")

    def add(self, images, labels, results):
        np.add.at(self.class_counts, labels, 1)
        for layer, maxima in enumerate(results["maxima"]):
            kept = results["kept"][layer]
            image, rank = np.nonzero(kept >= 0)
            np.add.at(self.activations[layer], (labels[image], kept[image, rank]), 1)
            self.examples[layer] = self.examples[layer].merge(
                maxima, results["positions"][layer], images, labels, self.images, self.fields[layer])
        for pair, influences in enumerate(results["influences"]):
            image, following, previous = top_influences(influences, results["kept"][pair + 1], self.top_k)
            self.influences[pair].add(labels[image], following, previous)
        self.images += len(images)

    def summary(self, options):
        return Summary(
            layers=tuple(self.layers), channels=tuple(self.channels), class_counts=self.class_counts,
            activations=self.activations, influences=self.influences, examples=self.examples,
            options=dict(options), model_name=self.model_name,
            fields=[None if item is None else vars(item).copy() for item in self.fields],
        )


# --------------------------------------------------------------------- Summary
@dataclass(eq=False)
class Summary:
    """What `summarize` returns: Summit's aggregated matrices, examples and graphs.

    Attributes:
        layers: names of the summarised layers, in graph order.
        channels: channel count of each layer.
        class_counts: images per class ``(classes,)``.
        activations: per layer, the aggregated activation matrix ``(classes, C)``:
            how many images of each class counted each channel.
        influences: per consecutive pair of layers, the aggregated influence
            counts ``(classes, C_next, C_previous)`` as `SparseCounts`.
        examples: per layer, the top images of every channel (`Examples`).
        options: the options of the run (mass, top_channels, top_k, influence, examples).
        model_name: the summarised model's name.
        fields: per layer, the receptive field as a dict (``None`` = unknown).

    Example:
        >>> summary.save("shapes.summit.npz")
        >>> summary = xw.Summary.load("shapes.summit.npz")
        >>> summary.graph(summary.class_counts.argmax())
    """

    layers: tuple
    channels: tuple
    class_counts: np.ndarray
    activations: list
    influences: list
    examples: list
    options: dict = field(default_factory=dict)
    model_name: str = ""
    fields: list = field(default_factory=list)

    @property
    def num_classes(self):
        return len(self.class_counts)

    @property
    def images(self):
        return int(self.class_counts.sum())

    def layer_index(self, layer):
        """The position of ``layer`` (a name or an index) in `layers`."""
        if isinstance(layer, str):
            if layer not in self.layers:
                raise ValueError(f"layer {layer!r} is not summarised; the summary has {list(self.layers)}.")
            return self.layers.index(layer)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(self.layers):
            raise ValueError(f"layer must be a name in {list(self.layers)} or an index below {len(self.layers)}; "
                             f"got {layer!r}.")
        return int(layer)

    def influence_matrix(self, layer, class_index=None):
        """Dense influence counts into ``layer`` (the later layer of a pair) from the layer before it.

        Returns:
            ``(C_next, C_previous)`` for one class, or ``(classes, C_next, C_previous)``.
        """
        index = self.layer_index(layer)
        if index == 0:
            raise ValueError(f"layer {self.layers[0]!r} is the first summarised layer; nothing feeds it.")
        if class_index is not None:
            self._check_class(class_index)
        return self.influences[index - 1].dense(class_index)

    def graph(self, class_index, min_nodes=3, max_nodes=10, damping=0.85):
        """The attribution graph of one class (Summit).

        Every channel of every layer is a node; an edge runs from a channel to
        each channel of the previous layer it counted among its top
        influences, weighted by the class's count. Scores are a personalised
        PageRank whose walk follows those edges back towards the input (a
        channel matters if it feeds channels that matter) and restarts in
        proportion to the class's activation counts. Each layer then keeps
        its ``n`` best-scoring channels, ``n`` growing from ``min_nodes``
        until every pair of consecutive layers is joined by an edge (or
        ``max_nodes`` is reached; then ``connected`` is False).

        Args:
            class_index: the class.
            min_nodes, max_nodes: bounds of the channels kept per layer.
            damping: PageRank's probability of following an edge.

        Returns:
            An `AttributionGraph`.
        """
        self._check_class(class_index)
        if not 1 <= min_nodes <= max_nodes:
            raise ValueError(f"need 1 <= min_nodes <= max_nodes; got min_nodes={min_nodes}, max_nodes={max_nodes}.")
        if self.class_counts[class_index] == 0:
            raise ValueError(f"class {class_index} has no images in this summary; pick a class with images.")
        offsets = np.concatenate([[0], np.cumsum(self.channels)])
        personalisation = np.concatenate([counts[class_index] for counts in self.activations]).astype(np.float64)
        if personalisation.sum() == 0:
            personalisation[:] = 1.0
        edges = [influence.entries(class_index) for influence in self.influences]
        sources = np.concatenate([offsets[pair + 1] + following for pair, (following, _, _) in enumerate(edges)] or [[]])
        targets = np.concatenate([offsets[pair] + previous for pair, (_, previous, _) in enumerate(edges)] or [[]])
        weights = np.concatenate([counts for _, _, counts in edges] or [[]]).astype(np.float64)
        scores = personalised_pagerank(sources.astype(np.int64), targets.astype(np.int64), weights,
                                       personalisation, damping)
        per_layer = [scores[offsets[layer]:offsets[layer + 1]] for layer in range(len(self.layers))]
        ranked = [np.lexsort((np.arange(len(layer_scores)), -layer_scores)) for layer_scores in per_layer]
        ranked = [order[per_layer[layer][order] > 0] for layer, order in enumerate(ranked)]
        for size in range(min_nodes, max_nodes + 1):
            kept = [order[:size] for order in ranked]
            connected = all(_joined(edges[pair], kept[pair + 1], kept[pair]) for pair in range(len(edges)))
            if connected:
                break
        return self._build_graph(class_index, kept, per_layer, edges, connected)

    def _build_graph(self, class_index, kept, per_layer, edges, connected):
        nodes, ids = [], {}
        for layer, channels in enumerate(kept):
            for channel in channels:
                ids[layer, int(channel)] = len(nodes)
                nodes.append(GraphNode(
                    layer=layer, channel=int(channel), count=int(self.activations[layer][class_index, channel]),
                    score=float(per_layer[layer][channel]), neighbours=self._neighbours(edges, layer, channel),
                ))
        links = []
        for pair, (following, previous, counts) in enumerate(edges):
            for target, source, count in zip(following, previous, counts):
                if (pair, int(source)) in ids and (pair + 1, int(target)) in ids:
                    links.append((ids[pair, int(source)], ids[pair + 1, int(target)], int(count)))
        thumbnails = np.stack([self.examples[node.layer].thumbnails[node.channel, 0] for node in nodes]) \
            if nodes else np.zeros((0, THUMBNAIL, THUMBNAIL, 3), np.uint8)
        return AttributionGraph(class_index=int(class_index), layers=self.layers, nodes=nodes, edges=links,
                                connected=bool(connected), images=int(self.class_counts[class_index]),
                                thumbnails=thumbnails)

    @staticmethod
    def _neighbours(edges, layer, channel, count=5):
        if layer == 0:
            return []
        following, previous, counts = edges[layer - 1]
        chosen = following == channel
        order = np.lexsort((previous[chosen], -counts[chosen]))[:count]
        return [(int(previous[chosen][index]), int(counts[chosen][index])) for index in order]

    def embedding(self):
        """A 2-D map of the classes: PCA of their activation profiles.

        A class's profile is its activation counts over all layers divided by
        its number of images (how often each channel counts for it).

        Returns:
            ``(classes, 2)`` float array; NaN rows for classes without images.
        """
        rates = np.concatenate(self.activations, axis=1) / np.maximum(self.class_counts, 1)[:, np.newaxis]
        present = self.class_counts > 0
        points = np.full((self.num_classes, 2), np.nan)
        if not present.any():
            return points
        centred = rates[present] - rates[present].mean(axis=0)
        _, _, directions = np.linalg.svd(centred, full_matrices=False)
        directions = directions[:2] * np.sign(directions[:2][np.arange(len(directions[:2])),
                                                             np.abs(directions[:2]).argmax(axis=1)])[:, None]
        coordinates = np.zeros((int(present.sum()), 2))
        coordinates[:, :len(directions)] = centred @ directions.T
        points[present] = coordinates
        return points

    def _check_class(self, class_index):
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
                or not 0 <= class_index < self.num_classes:
            raise ValueError(f"class_index must be an int in [0, {self.num_classes}); got {class_index!r}.")

    # --------------------------------------------------------------- files
    def save(self, path):
        """Write the summary to one ``.npz`` file (arrays plus a JSON header; no pickled objects).

        Returns:
            ``path``.
        """
        meta = dict(format=FORMAT_VERSION, layers=list(self.layers), channels=list(self.channels),
                    options=self.options, model_name=self.model_name, fields=self.fields,
                    num_classes=self.num_classes)
        arrays = {"meta": np.array(json.dumps(meta)), "class_counts": self.class_counts}
        for layer, counts in enumerate(self.activations):
            arrays[f"activations_{layer}"] = counts
            for name, array in zip(("values", "index", "labels", "boxes", "thumbnails"), self.examples[layer]._arrays()):
                arrays[f"examples_{layer}_{name}"] = array
        for pair, influence in enumerate(self.influences):
            arrays[f"influences_{pair}_keys"], arrays[f"influences_{pair}_counts"] = influence.keys, influence.counts
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read a summary written by `save`.

        Example:
            >>> summary = xw.Summary.load("shapes.summit.npz")
        """
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path} holds summary format {meta.get('format')!r}; this version reads "
                                 f"format {FORMAT_VERSION}. Recompute it with xw.summarize.")
            layers, channels, classes = meta["layers"], meta["channels"], meta["num_classes"]
            return cls(
                layers=tuple(layers), channels=tuple(channels), class_counts=stored["class_counts"],
                activations=[stored[f"activations_{layer}"] for layer in range(len(layers))],
                influences=[SparseCounts((classes, channels[pair + 1], channels[pair]),
                                         stored[f"influences_{pair}_keys"], stored[f"influences_{pair}_counts"])
                            for pair in range(len(layers) - 1)],
                examples=[Examples(*(stored[f"examples_{layer}_{name}"]
                                     for name in ("values", "index", "labels", "boxes", "thumbnails")))
                          for layer in range(len(layers))],
                options=meta["options"], model_name=meta["model_name"], fields=meta["fields"],
            )

    def __repr__(self):
        layers = ", ".join(f"{name}({channels})" for name, channels in zip(self.layers, self.channels))
        return (f"Summary(model={self.model_name!r}, images={self.images}, classes={self.num_classes}, "
                f"layers=[{layers}], influence={self.options.get('influence')!r})")


def _joined(edges, following_kept, previous_kept):
    following, previous, _ = edges
    return bool(np.any(np.isin(following, following_kept) & np.isin(previous, previous_kept)))


def personalised_pagerank(sources, targets, weights, personalisation, damping=0.85, tolerance=1e-12,
                          max_iterations=500):
    """PageRank with restarts drawn from ``personalisation`` (power iteration).

    ``s = (1 − d)·p + d·(Wᵀ s + (mass on nodes without out-edges)·p)`` with
    ``W`` the edge weights normalised per source node and ``p`` the
    personalisation normalised to sum 1.

    Returns:
        The scores, one per node, summing to 1.
    """
    restart = np.asarray(personalisation, np.float64) / np.sum(personalisation)
    out_weight = np.bincount(sources, weights, minlength=len(restart))
    share = weights / np.where(out_weight[sources] > 0, out_weight[sources], 1.0)
    dangling = out_weight == 0
    scores = restart.copy()
    for _ in range(max_iterations):
        flow = np.bincount(targets, share * scores[sources], minlength=len(restart))
        updated = (1 - damping) * restart + damping * (flow + scores[dangling].sum() * restart)
        converged = np.abs(updated - scores).sum() < tolerance
        scores = updated
        if converged:
            break
    return scores


# ---------------------------------------------------------------------- graph
@dataclass
class GraphNode:
    """One channel in an attribution graph.

    Attributes:
        layer: position of its layer in the summary's ``layers``.
        channel: channel index in that layer.
        count: images of the class that counted this channel.
        score: its personalised PageRank.
        neighbours: ``(channel, count)`` of the previous layer's channels
            that most often were among its top influences, most first.
    """

    layer: int
    channel: int
    count: int
    score: float
    neighbours: list


@dataclass
class AttributionGraph:
    """The attribution graph of one class (see `Summary.graph`).

    Attributes:
        class_index: the class.
        layers: layer names (columns).
        nodes: the kept channels, layer by layer, best score first.
        edges: ``(source, target, count)`` node positions: ``source`` (a
            channel of one layer) was counted ``count`` times among the top
            influences of ``target`` (a channel of the next layer).
        connected: whether every pair of consecutive layers is joined.
        images: the class's number of images.
        thumbnails: each node's top dataset example ``(nodes, T, T, 3)`` uint8.
    """

    class_index: int
    layers: tuple
    nodes: list
    edges: list
    connected: bool
    images: int
    thumbnails: np.ndarray

    def to_dict(self):
        """Plain JSON-ready data (what the widget draws)."""
        return {
            "class_index": self.class_index, "layers": list(self.layers), "connected": self.connected,
            "images": self.images,
            "nodes": [dict(id=index, layer=node.layer, channel=node.channel, count=node.count, score=node.score,
                           neighbours=[dict(channel=channel, count=count) for channel, count in node.neighbours])
                      for index, node in enumerate(self.nodes)],
            "edges": [dict(source=source, target=target, weight=weight) for source, target, weight in self.edges],
        }

    def plot(self, ax=None, title=None):
        """Draw the graph with matplotlib: layers as columns, nodes as their top example.

        Returns:
            The axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(2.2 * len(self.layers), 5))
        positions = _column_positions(self.nodes)
        heaviest = max((weight for _, _, weight in self.edges), default=1)
        for source, target, weight in self.edges:
            (x0, y0), (x1, y1) = positions[source], positions[target]
            ax.plot([x0, x1], [y0, y1], color="tab:blue", alpha=0.5, linewidth=0.3 + 4.0 * weight / heaviest,
                    zorder=1)
        half = 0.35
        for index, node in enumerate(self.nodes):
            x, y = positions[index]
            ax.imshow(self.thumbnails[index], extent=(x - half, x + half, y + half, y - half), zorder=2)
            ax.text(x + half + 0.05, y, f"#{node.channel}\n{node.count}×", va="center", fontsize=7, zorder=3)
        ax.set_xticks([COLUMN_SPACING * layer for layer in range(len(self.layers))], self.layers, fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(-0.6, COLUMN_SPACING * (len(self.layers) - 1) + 1.0)
        rows = max((sum(node.layer == layer for node in self.nodes) for layer in range(len(self.layers))), default=1)
        ax.set_ylim(rows - 0.4, -0.6)
        ax.set_title(title or f"class {self.class_index} ({self.images} images)")
        return ax


COLUMN_SPACING = 2.0  # plot units between layer columns (one unit per node row)


def _column_positions(nodes):
    rows = {}
    positions = []
    for node in nodes:
        positions.append((COLUMN_SPACING * node.layer, rows.get(node.layer, 0)))
        rows[node.layer] = rows.get(node.layer, 0) + 1
    return positions
