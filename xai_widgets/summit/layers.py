"""Which layers `summarize` reads, and how two consecutive chosen layers are joined.

Two structures decide how influence is computed (see `influence.py`): a pair
joined by one convolution and channel-wise layers on a single path (a
`ConvolutionPath`, the fast exact case), and anything else (blocks: residual
additions, concatenations, several convolutions), whose sub-network is cut
out of the model by `block_inputs`.
"""

from dataclasses import dataclass

from .._backend import keras

MAX_DEFAULT_LAYERS = 4
CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
# Layers that act on every channel on its own: allowed around the convolution of a `ConvolutionPath`.
CHANNELWISE = (
    keras.layers.BatchNormalization, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.ELU, keras.layers.PReLU, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise, keras.layers.ZeroPadding2D,
    keras.layers.Identity,
)
# Positively homogeneous at inference, f(t·a) = t·f(a) for t > 0 (with the ReLU checks in `is_homogeneous`).
HOMOGENEOUS = (
    keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
    keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise, keras.layers.ZeroPadding2D,
    keras.layers.Identity,
)
# Activations that mix the channels of a position: a layer applying them is not channel-wise.
CHANNEL_MIXING_ACTIVATIONS = ("softmax", "log_softmax")
# Layers that only subsample, pad or crop the layer before them: never chosen by `default_layers`.
RESAMPLING = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.ZeroPadding2D,
              keras.layers.Cropping2D)


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
        if isinstance(layer, CONVOLUTIONS) or any(parent in after_convolution for parent in parents(layer)):
            after_convolution.add(layer)
            shape = output_shape(layer)
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
        if output_shape(layer) is None:
            raise ValueError(
                f"layer {layer.name!r} has output shape {layer.output.shape}; Summit summarises feature maps "
                "(N, H, W, C) — choose convolutional layers."
            )
        resolved.append(layer)
    if not resolved or len(set(resolved)) != len(resolved):
        raise ValueError(f"layers must name distinct layers, at least one; got {[layer.name for layer in resolved]}.")
    for previous, following in zip(resolved, resolved[1:]):
        if previous not in ancestors(following):
            raise ValueError(
                f"layer {following.name!r} does not depend on {previous.name!r}; list the layers in graph "
                "order, each one downstream of the one before."
            )
    return resolved


def parents(layer):
    if isinstance(layer, keras.layers.InputLayer):
        return []
    return [tensor._keras_history.operation for tensor in as_list(layer.input)]


def ancestors(layer):
    found, pending = set(), list(parents(layer))
    while pending:
        parent = pending.pop()
        if parent not in found:
            found.add(parent)
            pending.extend(parents(parent))
    return found


def output_shape(layer):
    outputs = as_list(layer.output)
    if len(outputs) != 1 or len(outputs[0].shape) != 4:
        return None
    return tuple(outputs[0].shape)


def as_list(tensors):
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


# ----------------------------------------------------------- pair structure
@dataclass(frozen=True)
class ConvolutionPath:
    """``previous → before → convolution → after`` (``after`` ends with the following layer).

    Attributes:
        convolution: the one ungrouped, channels-last ``Conv2D`` on the path.
        before: the channel-wise layers between the previous layer and the convolution, in order.
        after: the channel-wise layers after the convolution up to the following layer, in order.
    """

    convolution: keras.layers.Conv2D
    before: tuple
    after: tuple

    @property
    def homogeneous_before(self):
        """Whether every layer before the convolution is positively homogeneous (see `is_homogeneous`)."""
        return all(is_homogeneous(layer) for layer in self.before)


def single_convolution(previous, following):
    """The `ConvolutionPath` joining ``previous`` to ``following``, or a ValueError saying why there is none.

    Between them only one ungrouped ``Conv2D`` and channel-wise layers
    (BatchNorm, activations other than softmax, pooling, dropout, padding)
    may lie, on a single path.
    """
    path, layer = [], following
    while layer is not previous:
        layer_parents = parents(layer)
        if len(layer_parents) != 1:
            raise ValueError(
                f"influence='summit' needs layers joined by one convolution, but {layer.name!r} between "
                f"{previous.name!r} and {following.name!r} merges {len(layer_parents)} inputs; use "
                "influence='gradient', which works across any blocks."
            )
        path.append(layer)
        layer = layer_parents[0]
    path.reverse()
    convolutions = [layer for layer in path if isinstance(layer, CONVOLUTIONS)]
    others = [layer for layer in path if not isinstance(layer, CONVOLUTIONS) and not is_channelwise(layer)]
    if len(convolutions) != 1 or type(convolutions[0]) is not keras.layers.Conv2D or others:
        raise ValueError(
            f"influence='summit' needs {previous.name!r} and {following.name!r} joined by exactly one Conv2D "
            f"and channel-wise layers; found {[layer.name for layer in path]}. Use influence='gradient'."
        )
    convolution = convolutions[0]
    if convolution.groups != 1 or convolution.data_format != "channels_last" \
            or _activation_name(convolution.activation) in CHANNEL_MIXING_ACTIVATIONS:
        raise ValueError(
            f"influence='summit' needs an ungrouped channels-last Conv2D without softmax; {convolution.name!r} "
            f"has groups={convolution.groups}, data_format={convolution.data_format!r}, activation="
            f"{_activation_name(convolution.activation)!r}. Use influence='gradient'."
        )
    place = path.index(convolution)
    return ConvolutionPath(convolution, tuple(path[:place]), tuple(path[place + 1:]))


def convolution_path(previous, following):
    """The `ConvolutionPath` joining the two layers, or ``None`` when they are joined by blocks."""
    try:
        return single_convolution(previous, following)
    except ValueError:
        return None


def is_channelwise(layer):
    """Whether ``layer`` maps every channel on its own (no softmax across channels)."""
    if not isinstance(layer, CHANNELWISE):
        return False
    return not isinstance(layer, keras.layers.Activation) \
        or _activation_name(layer.activation) not in CHANNEL_MIXING_ACTIVATIONS


def is_homogeneous(layer):
    """Whether ``layer(t·a) = t·layer(a)`` for every ``t > 0`` at inference (ReLU without cap or threshold)."""
    if isinstance(layer, keras.layers.Activation):
        return _activation_name(layer.activation) in ("relu", "linear")
    if isinstance(layer, keras.layers.ReLU):
        return layer.max_value is None and float(layer.threshold) == 0.0
    return isinstance(layer, HOMOGENEOUS)


def _activation_name(activation):
    return getattr(activation, "__name__", type(activation).__name__)


def block_inputs(previous, following):
    """The tensors a sub-model from ``previous`` to ``following`` needs besides ``previous.output``.

    Those are the tensors that feed the layers between the two without
    depending on ``previous`` (a skip connection from further back, another
    model input); influence treats them as constants.
    """
    extra, seen, pending = [], set(), [following]
    while pending:
        layer = pending.pop()
        if layer in seen or layer is previous:
            continue
        seen.add(layer)
        for tensor in as_list(layer.input):
            parent = tensor._keras_history.operation
            if parent is previous or previous in ancestors(parent):
                pending.append(parent)
            elif all(tensor is not known for known in extra):
                extra.append(tensor)
    return extra
