"""Influence of a previous layer's channels on the next layer's channels: the edges of Summit's graph.

For previous activations A (channels i) and the next chosen layer B with
spatial maxima M_j = max_{u,v} B_{u,v,j} (Hohman et al. 2019):

    influence="gradient":  I_ji = Σ_{u,v} A_{u,v,i} · ∂M_j / ∂A_{u,v,i}
    influence="summit":    I_ji = max_{u,v} (A_i ⋆ K_{:,:,i,j})_{u,v}      (one Conv2D with kernel K between)

Every function here returns ``I`` for a batch as ``(N, C_next, C_previous)``
(or ``(N, R, C_previous)`` for R chosen next channels), exactly; they differ
in how much of the model's structure they can use:

- `convolution_influence`: A and B joined by one convolution and channel-wise
  layers, for every j at once: one backward pass through the channel-wise
  layers after the convolution, then per channel the kernel against one
  window of the input (or, where a maximum spreads over several positions,
  the per-image kernel gradient: about one convolution).
- `block_influence`: any sub-network between A and B (residual additions,
  concatenations, several convolutions). One forward-mode pass per previous
  channel i, vectorised over i.
- `kept_influence`: one backward pass per chosen next channel (``into="kept"``).
- `summit_influence`: the paper's definition, all (j, i) maps at once.
"""

import numpy as np

from .._backend import keras, tf
from .layers import as_list

# Bounds the floats per image held at once by the vectorised and per-channel computations.
FLOATS_PER_IMAGE = 2**20
# The same for `block_influence`'s tangents, counted over every layer of the block (16 MB per image).
TANGENT_FLOATS_PER_IMAGE = 2**22


def convolution_influence(previous, inputs, outputs, path, output_maxima, output_peaks):
    """``I[n, j, i]`` for layers joined by one convolution (a `ConvolutionPath`), for every j.

    With X the convolution's input, Z = X ⋆ K its output before bias and
    activation, and q, k running over output positions and kernel offsets:

        I[n, j, i] = Σ_q g[n, q, j] · Σ_k K[k, i, j] · D[n, q·s + k·d, i]

    where ``g = ∂(Σ_j M_j)/∂Z`` is one backward pass through the layers after
    the convolution (they never mix channels, so ``g[..., j] = ∂M_j/∂Z_j``)
    and ``D = J·A`` is the derivative of the channel-wise layers between A and
    X along A itself (``D = X`` when they are positively homogeneous, by
    Euler's theorem). The sum over q is the convolution's kernel gradient,
    per image: patches of D against g, then contracted with K.

    Where every channel's gradient sits at one position p_j (its maximum
    reaches Z through ReLUs and max-pooling), the sum over q has one term:
    the kernel is contracted with D's window at p_j only. Otherwise (ties,
    average pooling after the convolution) every position counts. When B is
    the convolution's own ReLU or linear output, g is read off B (1 at a
    channel's unique maximum, 0 where a ReLU channel is 0 everywhere; p_j is
    the channel's first maximum, already found for the data-set examples) and
    the backward pass only runs if some maximum is tied.

    Args:
        previous: A ``(N, H, W, C_previous)``.
        inputs: X, the convolution's input in the model.
        outputs: the convolution layer's output in the model (after its activation).
        path: the `ConvolutionPath` from A's layer to B's.
        output_maxima: ``(N, C_next)`` spatial maxima of ``outputs``.
        output_peaks: ``(N, C_next)`` int32 flat position of each one's first maximum (`first_peaks`).
    """
    convolution = path.convolution
    direction = inputs if path.homogeneous_before else directional_derivative(previous, path.before)
    direction = tf.cast(direction, tf.float32)
    rows, columns = convolution.kernel_size
    kernel = tf.reshape(tf.cast(convolution.kernel, tf.float32),
                        (rows * columns, direction.shape[-1], convolution.filters))

    def at_one_position(position, value):
        return _contract_at_one_position(direction, tf.shape(outputs)[1:3], position, value, kernel, convolution)

    def from_the_gradient():
        gradient = tf.cast(maxima_gradient(inputs, outputs, path), tf.float32)
        count, position, value = _nonzero_summary(gradient)
        return tf.cond(tf.reduce_max(count) <= 1, lambda: at_one_position(position, value),
                       lambda: _contract_everywhere(direction, gradient, kernel, convolution))

    if not _maximum_is_the_output(path):
        return from_the_gradient()
    tied, value = _maximum_summary(outputs, output_maxima, path)
    return tf.cond(tied, from_the_gradient, lambda: at_one_position(output_peaks, value))


def _maximum_is_the_output(path):
    """Whether B is the convolution's own output with a ReLU or linear activation (g is then read off B)."""
    return not path.after and getattr(path.convolution.activation, "__name__", None) in ("relu", "linear")


def _maximum_summary(outputs, maxima, path):
    """Whether some maximum is tied, and g's value at each channel's maximum, where B is the convolution's output.

    With a ReLU or linear activation, g[n, :, j] is 1 at the position of
    channel j's maximum if it is the only one, and (ReLU) 0 everywhere if the
    maximum is not positive. A maximum is tied when more positions hold it
    than there are channels that count (one full comparison and sum: cheaper
    than counting per channel); then the caller takes the gradient instead.
    """
    outputs, maxima = tf.cast(outputs, tf.float32), tf.cast(maxima, tf.float32)
    if path.convolution.activation.__name__ == "relu":
        counted = maxima > 0
        value = tf.cast(counted, tf.float32)
        maxima = tf.where(counted, maxima, np.inf)  # no gradient at all where B_j is 0 everywhere
    else:
        counted = tf.ones_like(maxima, tf.bool)
        value = tf.ones_like(maxima)
    at_maximum = tf.math.count_nonzero(outputs == maxima[:, tf.newaxis, tf.newaxis, :], dtype=tf.int32)
    return at_maximum > tf.math.count_nonzero(counted, dtype=tf.int32), value


def first_peaks(values):
    """``(N, C)`` int32: flat position ``row · W + column`` of each channel's spatial maximum, the first on ties."""
    shape = tf.shape(values)
    flat = tf.reshape(values, (shape[0], shape[1] * shape[2], shape[3]))
    return tf.argmax(flat, axis=1, output_type=tf.int32)


def _nonzero_summary(gradient):
    """Per image and channel of g: how many positions are nonzero, the sum of their flat indices, and Σ g.

    Where one position is nonzero, the index sum is that position and Σ g
    its value, exactly.
    """
    count, position = _flat_positions(tf.cast(gradient != 0, tf.float32))
    return count, position, tf.reduce_sum(tf.reshape(gradient, (tf.shape(gradient)[0], -1, gradient.shape[-1])), 1)


def _flat_positions(marked):
    """``(N, C)`` counts of the marked (1) positions of each channel of ``marked`` and the sums of their flat indices.

    One matrix product with the columns (1, q) (reductions over the middle
    axis are slow); exact for integers below 2^24.
    """
    flat = tf.reshape(marked, (tf.shape(marked)[0], -1, marked.shape[-1]))
    places = tf.shape(flat)[1]
    columns = tf.stack([tf.ones((places,)), tf.cast(tf.range(places), tf.float32)], axis=1)   # (Q, 2)
    counted = tf.einsum("nqj,qc->njc", flat, columns)
    return counted[..., 0], tf.cast(counted[..., 1], tf.int32)


def _contract_everywhere(direction, gradient, kernel, convolution):
    """``Σ_q g[n, q, j] Σ_k K[k, i, j] D[n, q·s + k·d, i]``: D's patches (as the convolution pads) against g."""
    rows, columns = convolution.kernel_size
    patches = tf.image.extract_patches(
        direction, sizes=(1, rows, columns, 1), strides=(1, *convolution.strides, 1),
        rates=(1, *convolution.dilation_rate, 1), padding=convolution.padding.upper(),
    )
    images, offsets, previous_channels = tf.shape(patches)[0], rows * columns, direction.shape[-1]
    patches = tf.reshape(patches, (images, -1, offsets * previous_channels))
    flat_gradient = tf.reshape(gradient, (images, -1, gradient.shape[-1]))
    kernel_gradient = tf.reshape(tf.linalg.matmul(flat_gradient, patches, transpose_a=True),
                                 (images, gradient.shape[-1], offsets, previous_channels))
    return tf.einsum("njki,kij->nji", kernel_gradient, kernel)


def _contract_at_one_position(direction, output_size, position, value, kernel, convolution):
    """The same sum where g[n, :, j] is zero but at one position p_j (flat index into the output).

    ``I[n, j, i] = g[n, p_j, j] · Σ_k K[k, i, j] · D[n, p_j·s + k·d − pad, i]``: the window of D at p_j
    only. D is padded with zeros as the convolution pads it (taps in the padding add nothing), so
    every window lies inside and one gather on flat indices reads them all.
    """
    rows, columns = convolution.kernel_size
    size = tf.shape(direction)[1:3]
    padding = [_padding(size[axis], output_size[axis], convolution, axis) for axis in range(2)]
    padded = tf.pad(direction, [[0, 0], padding[0], padding[1], [0, 0]])
    padded_size = size + tf.stack([tf.reduce_sum(padding[0]), tf.reduce_sum(padding[1])])
    offset_rows, offset_columns = tf.meshgrid(tf.range(rows), tf.range(columns), indexing="ij")
    window = [place[..., tf.newaxis] * convolution.strides[axis] + tf.reshape(offsets, (1, 1, -1))
              * convolution.dilation_rate[axis]                                            # (N, C_next, K)
              for axis, place, offsets in [(0, position // output_size[1], offset_rows),
                                           (1, position % output_size[1], offset_columns)]]
    image = tf.range(tf.shape(direction)[0])[:, tf.newaxis, tf.newaxis]
    flat = (image * padded_size[0] + window[0]) * padded_size[1] + window[1]
    windows = tf.gather(tf.reshape(padded, (-1, direction.shape[-1])), flat)         # (N, C_next, K, C_previous)
    per_channel_kernel = tf.transpose(kernel, (2, 0, 1))                                 # (C_next, K, C_previous)
    return value[..., tf.newaxis] * tf.reduce_sum(windows * per_channel_kernel, axis=2)


def _padding(input_size, output_size, convolution, axis):
    """``[before, after]``: zeros the convolution adds around its input along ``axis`` (TensorFlow's split)."""
    if convolution.padding == "valid":
        return tf.zeros(2, tf.int32)
    span = convolution.dilation_rate[axis] * (convolution.kernel_size[axis] - 1) + 1
    total = tf.maximum((output_size - 1) * convolution.strides[axis] + span - input_size, 0)
    return tf.stack([total // 2, total - total // 2])


def maxima_gradient(inputs, outputs, path):
    """``∂(Σ_j M_j)/∂Z``: the gradient of the following layer's channel maxima at the convolution's output Z.

    When the convolution's activation is ReLU or linear, its derivative is
    read off the convolution's output Y (``Y > 0``, as TensorFlow's ReLU
    gradient does) and only the layers after it are differentiated.
    Otherwise Z is recomputed from the convolution's input X (it is no tensor
    of the model when the convolution applies its activation itself) and
    bias, activation and the layers after it are differentiated.

    Args:
        inputs: X, the convolution's input.
        outputs: Y, the convolution layer's output (after its activation).
        path: the `ConvolutionPath`.
    """
    convolution = path.convolution
    activation = getattr(convolution.activation, "__name__", None)
    if activation in ("relu", "linear"):
        with tf.GradientTape() as tape:
            tape.watch(outputs)
            total = tf.reduce_sum(tf.reduce_max(_after_convolution(outputs, path), axis=(1, 2)))
        gradient = tape.gradient(total, outputs)
        return gradient * tf.cast(outputs > 0, gradient.dtype) if activation == "relu" else gradient
    with tf.GradientTape() as tape:
        convolved = convolution.convolution_op(inputs, convolution.kernel)
        tape.watch(convolved)
        total = tf.reduce_sum(tf.reduce_max(following_activations(convolved, path), axis=(1, 2)))
    return tape.gradient(total, convolved)


def following_activations(convolved, path):
    """B from the convolution's output Z: bias, the convolution's activation, the layers after it."""
    convolution = path.convolution
    value = keras.ops.add(convolved, convolution.bias) if convolution.use_bias else convolved
    if convolution.activation is not None:
        value = convolution.activation(value)
    return _after_convolution(value, path)


def _after_convolution(value, path):
    for layer in path.after:
        value = layer(value, training=False)
    return value


def directional_derivative(previous, layers):
    """``J·A``: the forward-mode derivative of the channel-wise ``layers`` at A along A itself."""
    with tf.autodiff.ForwardAccumulator(previous, previous) as accumulator:
        value = previous
        for layer in layers:
            value = layer(value, training=False)
    return accumulator.jvp(value, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def block_influence(previous, constants, block):
    """``I[n, j, i]`` through any sub-network, for every j: one forward-mode pass per previous channel.

    The tangent ``A ⊙ e_i`` (A restricted to channel i) carried forward to
    the maxima gives ``Σ_{u,v} A_{u,v,i} ∂M_j/∂A_{u,v,i}`` for every j at once.
    The passes are vectorised (`tf.vectorized_map`) over groups of channels
    whose size bounds the memory per image: every layer of the block holds a
    tangent per channel of the group. The groups run in a `tf.map_fn` loop,
    so the block's forward-mode pass is traced once, however many channels A
    has (a Python loop would trace it once per group: minutes and gigabytes
    for a ResNet50 stage).

    Args:
        previous: A ``(N, H, W, C_previous)``.
        constants: the other tensors ``block`` takes (see `layers.block_inputs`), held fixed.
        block: a Keras model ``[A, *constants] → B``.
    """
    channels = previous.shape[-1]
    group = max(1, min(channels, TANGENT_FLOATS_PER_IMAGE // _floats_per_tangent(block)))
    groups = -(-channels // group)

    def channel_influence(channel):
        tangent = previous * tf.one_hot(channel, channels, dtype=previous.dtype)
        with tf.autodiff.ForwardAccumulator(previous, tangent) as accumulator:
            following = block([previous, *constants], training=False)
            maxima = tf.reduce_max(following, axis=(1, 2))
        return tf.cast(accumulator.jvp(maxima, unconnected_gradients=tf.UnconnectedGradients.ZERO), tf.float32)

    def group_influence(first):  # the last group repeats the last channel; the repeats are dropped below
        return tf.vectorized_map(channel_influence, tf.minimum(first + tf.range(group), channels - 1))

    if groups == 1:
        values = group_influence(0)
    else:
        values = tf.map_fn(group_influence, tf.range(groups) * group,
                           fn_output_signature=tf.TensorSpec((group, None, block.outputs[0].shape[-1]), tf.float32))
        values = tf.reshape(values, (groups * group, -1, values.shape[-1]))[:channels]
    return tf.transpose(values, (1, 2, 0))


def _floats_per_tangent(block):
    """Floats per image that one tangent holds across the block: the outputs of all its layers."""
    return max(1, sum(int(np.prod([size or 1 for size in tensor.shape[1:]]))
                      for layer in block.layers for tensor in as_list(layer.output)))


def kept_influence(tape, previous, next_maxima, channels):
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
    group = max(1, min(following, FLOATS_PER_IMAGE // max(1, output_area * previous)))
    stride = convolution.strides[0]
    parts = []
    for start in range(0, following, group):
        maps = tf.nn.depthwise_conv2d(
            tf.cast(inputs, tf.float32), kernel[..., start:start + group], strides=(1, stride, stride, 1),
            padding=convolution.padding.upper(), dilations=convolution.dilation_rate,
        )
        width = min(group, following - start)
        maxima = tf.reduce_max(maps, axis=(1, 2))
        parts.append(tf.reshape(maxima, (-1, previous, width)))
    return tf.transpose(tf.concat(parts, axis=2), (0, 2, 1))


def top_previous_channels(influences, top_k):
    """``(N, R, top_k)`` int32: per row, the previous channels with the largest positive influence, −1 past them.

    Ties keep the lower channel first (``tf.math.top_k``'s rule), so the
    choice never depends on the batch.
    """
    values, channels = tf.math.top_k(influences, k=min(top_k, influences.shape[-1]))
    return tf.where(values > 0, channels, -1)
