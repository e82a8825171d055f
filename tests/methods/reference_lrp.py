"""An independent LRP (and DeepLIFT-RevealCancel) reference in numpy, written layer by layer (tests only).

It shares no code with `xai_widgets.methods.propagation`: every layer of a
plain chain of Conv2D / MaxPooling2D / AveragePooling2D /
GlobalAveragePooling2D / Flatten / Dense layers (ReLU or no activation) is
written out as an explicit matrix W (inputs × outputs, NHWC order), and each
rule is its textbook formula on the contribution matrix z_ij = a_i · W_ij,
in float64:

    R_i = Σ_j c_ij / stabilise(Σ_i' c_i'j + bias term_j) · R_j

with c_ij and the bias term as each rule defines them (see `contributions`).
Conventions: R at the output is one-hot × the target logit; stabilise(z) =
z + ε·sign(z) with sign(0) = +1 (0/0 counts as 0); ReLUs pass relevance
unchanged; max pooling gives it to the first largest input of a window;
average pooling splits it in proportion (LRP-0).
"""

import numpy as np

from xai_widgets._backend import keras

STABILIZER = 1e-6


class Layer:
    """One layer as matrices: ``forward(a)`` and the data the rules need."""

    def __init__(self, kind, matrix=None, bias=None, kernel=None, kernel_matrix=None, activation=None, pool=None):
        self.kind = kind                      # "linear", "avgpool", "maxpool", "flatten"
        self.matrix = matrix                  # W, (inputs, outputs)
        self.bias = bias
        self.kernel = kernel
        self.kernel_matrix = kernel_matrix    # kernel -> W with the same connectivity (for Flat, WSquare)
        self.activation = activation
        self.pool = pool                      # for max pooling: list of input-index windows per output

    def pre_activation(self, a):
        if self.kind == "flatten":
            return a
        if self.kind == "maxpool":
            return np.array([a[window].max() for window in self.pool])
        return a @ self.matrix + (0.0 if self.bias is None else self.bias)


def layers_of(model):
    """The model's layers as `Layer`s (the model must be a plain chain of supported layers)."""
    shape = tuple(model.inputs[0].shape[1:])
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        config = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = _kernel_and_bias(layer)
            build = _conv_matrix_builder(shape, config["strides"], config["padding"])
            matrix, shape = build(kernel)
            layers.append(Layer("linear", matrix, np.tile(bias, matrix.shape[1] // len(bias)), kernel,
                                lambda k, build=build: build(k)[0], config["activation"]))
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = _kernel_and_bias(layer)
            layers.append(Layer("linear", kernel, bias, kernel, lambda k: k, config["activation"]))
            shape = (kernel.shape[1],)
        elif isinstance(layer, keras.layers.MaxPooling2D):
            windows, shape = _pool_windows(shape, config["pool_size"], config["strides"])
            layers.append(Layer("maxpool", pool=windows))
        elif isinstance(layer, keras.layers.AveragePooling2D):
            windows, shape_out = _pool_windows(shape, config["pool_size"], config["strides"])
            layers.append(Layer("avgpool", _average_matrix(windows, int(np.prod(shape)))))
            shape = shape_out
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            height, width, channels = shape
            windows = [[(y * width + x) * channels + c for y in range(height) for x in range(width)]
                       for c in range(channels)]
            layers.append(Layer("avgpool", _average_matrix(windows, int(np.prod(shape)))))
            shape = (channels,)
        elif isinstance(layer, keras.layers.Flatten):
            layers.append(Layer("flatten"))
            shape = (int(np.prod(shape)),)
        else:
            raise ValueError(f"the reference does not know {type(layer).__name__}")
    return layers


def _kernel_and_bias(layer):
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[-1])
    return kernel, bias


def _conv_matrix_builder(shape, strides, padding):
    height, width, channels = shape
    stride_y, stride_x = strides

    def build(kernel):
        size_y, size_x, _, filters = kernel.shape
        if padding == "same":
            out_y, out_x = -(-height // stride_y), -(-width // stride_x)
            top = max((out_y - 1) * stride_y + size_y - height, 0) // 2
            left = max((out_x - 1) * stride_x + size_x - width, 0) // 2
        else:
            out_y, out_x = (height - size_y) // stride_y + 1, (width - size_x) // stride_x + 1
            top = left = 0
        matrix = np.zeros((height * width * channels, out_y * out_x * filters))
        for oy in range(out_y):
            for ox in range(out_x):
                columns = slice((oy * out_x + ox) * filters, (oy * out_x + ox + 1) * filters)
                for ky in range(size_y):
                    for kx in range(size_x):
                        iy, ix = oy * stride_y - top + ky, ox * stride_x - left + kx
                        if 0 <= iy < height and 0 <= ix < width:
                            rows = slice((iy * width + ix) * channels, (iy * width + ix + 1) * channels)
                            matrix[rows, columns] += kernel[ky, kx]
        return matrix, (out_y, out_x, filters)

    return build


def _pool_windows(shape, pool_size, strides):
    height, width, channels = shape
    (size_y, size_x), (stride_y, stride_x) = pool_size, strides
    out_y, out_x = (height - size_y) // stride_y + 1, (width - size_x) // stride_x + 1
    windows = []
    for oy in range(out_y):
        for ox in range(out_x):
            for c in range(channels):
                windows.append([((oy * stride_y + ky) * width + ox * stride_x + kx) * channels + c
                                for ky in range(size_y) for kx in range(size_x)])
    return windows, (out_y, out_x, channels)


def _average_matrix(windows, inputs):
    matrix = np.zeros((inputs, len(windows)))
    for column, window in enumerate(windows):
        matrix[window, column] = 1.0 / len(window)
    return matrix


# ------------------------------------------------------------------- forward
def forward(layers, image):
    """Activations at every layer's input, and the logits."""
    a = np.asarray(image, np.float64).reshape(-1)
    inputs = []
    for layer in layers:
        inputs.append(a)
        z = layer.pre_activation(a)
        a = np.maximum(z, 0.0) if layer.activation == "relu" else z
    return inputs, a


# --------------------------------------------------------------------- rules
def stabilise(z, epsilon):
    return z + epsilon * np.where(z >= 0, 1.0, -1.0)


def share(contributions, denominators, relevance, epsilon):
    """R_i = Σ_j c_ij / stabilise(d_j) · R_j, with 0/0 read as 0."""
    stable = stabilise(denominators, epsilon)
    ratio = np.divide(relevance, stable, out=np.zeros_like(relevance), where=stable != 0)
    return contributions @ ratio


def contributions(rule, layer, a, bounds, parameters):
    """Relevance at the inputs of a linear layer, given its output relevance (a closure per rule)."""
    W, b = layer.matrix, layer.bias if layer.bias is not None else np.zeros(layer.matrix.shape[1])
    a_plus, a_minus = np.maximum(a, 0)[:, None], np.minimum(a, 0)[:, None]
    W_plus, W_minus = np.maximum(W, 0), np.minimum(W, 0)
    b_plus, b_minus = np.maximum(b, 0), np.minimum(b, 0)
    eps = parameters.get("epsilon", STABILIZER)

    if rule in ("epsilon", "zero", "proportional"):
        c = a[:, None] * W
        return lambda R: share(c, c.sum(0) + b, R, eps if rule == "epsilon" else 0.0)
    if rule in ("zplus", "alpha_beta"):
        positive = a_plus * W_plus + a_minus * W_minus
        negative = a_plus * W_minus + a_minus * W_plus
        alpha, beta = (1.0, 0.0) if rule == "zplus" else (parameters["alpha"], parameters["beta"])
        return lambda R: (alpha * share(positive, positive.sum(0) + b_plus, R, STABILIZER)
                          - beta * share(negative, negative.sum(0) + b_minus, R, STABILIZER))
    if rule == "gamma":
        g = parameters["gamma"]
        z = a @ W + b
        up = a_plus * (W + g * W_plus) + a_minus * (W + g * W_minus)
        down = a_plus * (W + g * W_minus) + a_minus * (W + g * W_plus)
        return lambda R: (share(up, up.sum(0) + b + g * b_plus, R * (z > 0), STABILIZER)
                          + share(down, down.sum(0) + b + g * b_minus, R * (z < 0), STABILIZER))
    if rule == "flat":
        ones = layer.kernel_matrix(np.ones_like(layer.kernel))
        return lambda R: share(ones, ones.sum(0), R, STABILIZER)
    if rule == "wsquare":
        squares = layer.kernel_matrix(layer.kernel ** 2)
        return lambda R: share(squares, squares.sum(0) + b ** 2, R, STABILIZER)
    if rule == "zbox":
        low, high = (np.broadcast_to(bound, a.shape)[:, None] for bound in bounds)
        c = a[:, None] * W - low * W_plus - high * W_minus
        return lambda R: share(c, c.sum(0), R, STABILIZER)
    raise ValueError(rule)


def lrp(model, image, target, rules, parameters=None, bounds=(0.0, 1.0)):
    """Relevance at the input of one image.

    Args:
        model: a Keras chain of the supported layers.
        image: ``(H, W, C)``.
        target: the explained class.
        rules: one rule name for every Conv2D/Dense layer, or a list (one per such layer).
        parameters: ``epsilon``, ``alpha``, ``beta``, ``gamma``.
        bounds: ``(low, high)`` of the input for ZBox.
    """
    parameters = parameters or {}
    layers = layers_of(model)
    linear_count = sum(layer.kind == "linear" for layer in layers)
    rules = [rules] * linear_count if isinstance(rules, str) else list(rules)
    inputs, logits = forward(layers, image)
    relevance = np.zeros_like(logits)
    relevance[target] = logits[target]
    rule_index = linear_count
    flat_bounds = tuple(np.asarray(bound, np.float64).reshape(-1) if np.ndim(bound) else bound for bound in bounds)
    for layer, a in zip(reversed(layers), reversed(inputs)):
        if layer.kind == "flatten":
            continue
        if layer.kind == "maxpool":
            winners = np.zeros_like(a)
            for j, window in enumerate(layer.pool):
                winners[window[int(np.argmax(a[window]))]] += relevance[j]
            relevance = winners
        elif layer.kind == "avgpool":
            relevance = contributions("proportional", layer, a, None, parameters)(relevance)
        else:
            rule_index -= 1
            relevance = contributions(rules[rule_index], layer, a, flat_bounds, parameters)(relevance)
    return relevance.reshape(np.shape(image)), logits[target]


# ------------------------------------------------------------ RevealCancel
def reveal_cancel(model, image, baseline, target, small=1e-5):
    """DeepLIFT-RevealCancel (Shrikumar et al. 2017, §3.5.3) of one image, with both parts carried as they are.

    Every Δ is carried as its positive and negative parts (Δ⁺, Δ⁻); a linear
    layer W maps them to (W⁺ᵀΔ⁺ + W⁻ᵀΔ⁻, W⁻ᵀΔ⁺ + W⁺ᵀΔ⁻); a ReLU y = f(z) gets

        Δy⁺ = ½[f(z′ + Δz⁺) − f(z′)] + ½[f(z′ + Δz⁻ + Δz⁺) − f(z′ + Δz⁻)],  m⁺ = Δy⁺ / Δz⁺,

    (Δy⁻, m⁻ likewise; f′(z) where |Δz±| ≤ ``small``·(|z| + |z′|)), and its
    output parts start afresh as (max(Δy, 0), min(Δy, 0)). Multipliers go
    back by the chain rule; A = m⁺Δx⁺ + m⁻Δx⁻. No max pooling.
    """
    layers = layers_of(model)
    x_inputs, _ = forward(layers, image)
    reference_inputs, _ = forward(layers, baseline)
    change = x_inputs[0] - reference_inputs[0]
    parts = (np.maximum(change, 0.0), np.minimum(change, 0.0))
    first_parts, records = parts, []
    for layer, a, a_reference in zip(layers, x_inputs, reference_inputs):
        if layer.kind == "flatten":
            continue
        if layer.kind == "maxpool":
            raise ValueError("the RevealCancel reference has no max pooling")
        positive_weights, negative_weights = np.maximum(layer.matrix, 0.0), np.minimum(layer.matrix, 0.0)
        positive, negative = parts
        positive, negative = (positive @ positive_weights + negative @ negative_weights,
                              positive @ negative_weights + negative @ positive_weights)
        record = dict(positive_weights=positive_weights, negative_weights=negative_weights)
        if layer.activation == "relu":
            z, z_reference = layer.pre_activation(a), layer.pre_activation(a_reference)
            record.update(_reveal_cancel_relu(z, z_reference, positive, negative, small))
            output_change = np.maximum(z, 0.0) - np.maximum(z_reference, 0.0)
            positive, negative = np.maximum(output_change, 0.0), np.minimum(output_change, 0.0)
        records.append(record)
        parts = (positive, negative)
    positive_multiplier = np.zeros_like(parts[0])
    positive_multiplier[target] = 1.0
    negative_multiplier = positive_multiplier.copy()
    for record in reversed(records):
        if "output_change" in record:
            unit = np.where(record["output_change"] > 0, positive_multiplier, negative_multiplier)
            positive_multiplier, negative_multiplier = unit * record["plus"], unit * record["minus"]
        w_plus, w_minus = record["positive_weights"], record["negative_weights"]
        positive_multiplier, negative_multiplier = (w_plus @ positive_multiplier + w_minus @ negative_multiplier,
                                                    w_minus @ positive_multiplier + w_plus @ negative_multiplier)
    attribution = positive_multiplier * first_parts[0] + negative_multiplier * first_parts[1]
    return attribution.reshape(np.shape(image))


def _reveal_cancel_relu(z, z_reference, positive, negative, small):
    def f(value):
        return np.maximum(value, 0.0)

    plus = 0.5 * (f(z_reference + positive) - f(z_reference)) + 0.5 * (
        f(z_reference + negative + positive) - f(z_reference + negative))
    minus = 0.5 * (f(z_reference + negative) - f(z_reference)) + 0.5 * (
        f(z_reference + positive + negative) - f(z_reference + positive))
    noise = small * (np.abs(z) + np.abs(z_reference))
    slope = (z > 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dict(plus=np.where(np.abs(positive) > noise, plus / positive, slope),
                    minus=np.where(np.abs(negative) > noise, minus / negative, slope),
                    output_change=f(z) - f(z_reference))
