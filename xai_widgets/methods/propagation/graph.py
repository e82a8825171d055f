"""A Keras 3 model as a flat list of steps: the one graph every propagation rule walks.

`trace` follows a model's nodes from its input to its output, inlines nested
Sequential and Functional models, and turns each layer into one or more
`Step`s of a few kinds. A rule set (LRP, DeepLIFT, guided backprop) only has
to say what to do with each kind:

============  ==========================================================  =====================
kind          layers                                                      maps values how
============  ==========================================================  =====================
weighted      Dense, Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D  linear, with kernel + bias
              (as two steps: depthwise, then pointwise)
pool          AveragePooling*, GlobalAveragePooling*                      linear, no parameters
merge         Add, Average                                                linear, no parameters
reshape       Flatten, Reshape, Permute, ZeroPadding*, Cropping*,          moves (or drops) values
              Concatenate
affine        BatchNormalization, Rescaling, Normalization                x ↦ scale · x + shift, elementwise
activation    Activation, ReLU (incl. max_value), LeakyReLU, ELU, PReLU,  elementwise nonlinearity
              activations fused into Conv/Dense layers
maxpool       MaxPooling*, GlobalMaxPooling*                              picks the largest value
gate          Multiply of a signal with a (squeeze-excite) gate           elementwise product
============  ==========================================================  =====================

Dropout, noise and identity layers are no-ops at inference and vanish.
Anything else raises an error that names the layer, its type and the method.

`Graph.forward` and `Graph.backward` are the walk: forward evaluates the steps
in topological order, backward hands each step the quantity (relevance,
multiplier, gradient) that reached its output and sums what it passes to each
input. `pull_back` is the one GradientTape call every rule uses, and
`fused_elementwise` compiles a rule's elementwise arithmetic with XLA.
"""

from dataclasses import dataclass, field, replace

from ..._backend import keras, tf

KINDS = ("weighted", "pool", "merge", "reshape", "affine", "activation", "maxpool", "gate")
LINEAR_KINDS = ("weighted", "pool", "merge", "reshape", "affine")

_layers = keras.layers
_CONVOLUTIONS = (_layers.Conv1D, _layers.Conv2D, _layers.Conv3D)
_DEPTHWISE = (_layers.DepthwiseConv1D, _layers.DepthwiseConv2D)
_SEPARABLE = (_layers.SeparableConv1D, _layers.SeparableConv2D)
_AVERAGE_POOLS = (
    _layers.AveragePooling1D, _layers.AveragePooling2D, _layers.AveragePooling3D,
    _layers.GlobalAveragePooling1D, _layers.GlobalAveragePooling2D, _layers.GlobalAveragePooling3D,
)
_MAX_POOLS = (
    _layers.MaxPooling1D, _layers.MaxPooling2D, _layers.MaxPooling3D,
    _layers.GlobalMaxPooling1D, _layers.GlobalMaxPooling2D, _layers.GlobalMaxPooling3D,
)
_RESHAPES = (
    _layers.Flatten, _layers.Reshape, _layers.Permute, _layers.Concatenate,
    _layers.ZeroPadding1D, _layers.ZeroPadding2D, _layers.ZeroPadding3D,
    _layers.Cropping1D, _layers.Cropping2D, _layers.Cropping3D,
)
_ACTIVATIONS = (_layers.Activation, _layers.ReLU, _layers.LeakyReLU, _layers.ELU, _layers.PReLU)
_NO_OPS = (
    _layers.InputLayer, _layers.Dropout, _layers.SpatialDropout1D, _layers.SpatialDropout2D,
    _layers.SpatialDropout3D, _layers.GaussianDropout, _layers.GaussianNoise, _layers.AlphaDropout,
    _layers.ActivityRegularization, _layers.Identity,
)
_NOT_ELEMENTWISE = ("softmax", "log_softmax")
_GATE_ACTIVATIONS = ("sigmoid", "hard_sigmoid")
_NONNEGATIVE_ACTIVATIONS = ("relu", "relu6", "sigmoid", "hard_sigmoid", "softplus", "exponential")


class UnsupportedLayerError(ValueError):
    """A layer the propagation methods cannot handle (the message names it and the method)."""


@dataclass(eq=False)
class Step:
    """One operation of the flat graph.

    Attributes:
        kind: one of `KINDS`.
        layer: the Keras layer it comes from (named in errors and in composites).
        name: the layer's name, prefixed by the names of enclosing nested models.
        inputs: ids of the tensors it reads.
        output: id of the tensor it writes.
        call: ``call(inputs, params) -> output`` on a list of tensors; rules
            call it with modified inputs and parameters.
        params: ``params() -> dict`` of the current parameters (``kernel`` and
            ``bias`` of weighted steps, ``scale`` and ``shift`` of a
            BatchNormalization), read from the layer's variables at every call.
        scale_output: for weighted steps, ``scale_output(kernel, scale)``
            multiplies every output channel of the kernel (used to fold BatchNorm).
        gate: for kind ``gate``, the index of the input that is the gate (or
            ``None`` if it cannot be told from the signal).
        activation: for kind ``activation``, the function's name (``"relu"``, ``"sigmoid"``, …).
        folded: the BatchNormalization layer folded into this step, if any.
    """

    kind: str
    layer: object
    name: str
    inputs: tuple
    output: int
    call: object
    params: object = field(default=lambda: {})
    scale_output: object = None
    gate: object = None
    activation: str = ""
    folded: object = None

    def run(self, inputs):
        """The step's output for a list of input tensors (current parameters)."""
        return self.call(list(inputs), self.params())

    @property
    def type_name(self):
        return type(self.layer).__name__

    def describe(self):
        return f"layer {self.name!r} ({self.type_name})"


@dataclass(eq=False)
class Graph:
    """A traced model: steps in topological order from ``input`` to ``output``.

    Example:
        >>> graph = trace(model)
        >>> logits = graph(images)           # the same logits as model(images)
    """

    name: str
    steps: list
    input: int
    output: int

    def __call__(self, inputs):
        """The model's output, computed step by step (after any canonization)."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        return self.forward(inputs)[self.output]

    def forward(self, inputs, evaluate=None):
        """Evaluate every step in order; return ``{tensor id: value}``.

        ``evaluate(step, input_values)`` replaces ``step.run`` (rules use it to
        push other quantities forward, e.g. DeepLIFT's positive and negative
        parts); a step whose inputs are not all known, or for which
        ``evaluate`` returns ``None``, leaves its output unknown.
        """
        evaluate = evaluate or (lambda step, values: step.run(values))
        values = {self.input: inputs}
        for step in self.steps:
            if all(index in values for index in step.inputs):
                value = evaluate(step, [values[index] for index in step.inputs])
                if value is not None:
                    values[step.output] = value
        return values

    def backward(self, start, propagate):
        """Walk the steps in reverse, from ``start`` at the output to the input.

        ``propagate(step, incoming)`` maps the quantity that reached a step's
        output to one quantity per input (``None``: nothing flows there).
        Where a tensor feeds several steps, their quantities add up. Steps no
        quantity reaches are skipped.

        Returns:
            The quantity at the input (``None`` if nothing reached it).
        """
        pending = {self.output: start}
        for step in reversed(self.steps):
            incoming = pending.pop(step.output, None)
            if incoming is None:
                continue
            for index, quantity in zip(step.inputs, propagate(step, incoming)):
                if quantity is None:
                    continue
                if index in pending:
                    quantity = tf.nest.map_structure(tf.add, pending[index], quantity)
                pending[index] = quantity
        return pending.get(self.input)

    def weighted_steps(self):
        return [step for step in self.steps if step.kind == "weighted"]

    def nonnegative_tensors(self):
        """Ids of the tensors that are ≥ 0 whatever the input: after ReLUs and sigmoids, and what
        pooling, reshaping, adding and multiplying such tensors gives."""
        nonnegative = set()
        for step in self.steps:
            if step.kind == "activation":
                keeps_sign = step.activation in _NONNEGATIVE_ACTIVATIONS
            else:
                keeps_sign = step.kind in ("pool", "maxpool", "merge", "reshape", "gate") and all(
                    index in nonnegative for index in step.inputs)
            if keeps_sign:
                nonnegative.add(step.output)
        return nonnegative

    def producers(self):
        return {step.output: step for step in self.steps}

    def consumers(self):
        consumers = {}
        for step in self.steps:
            for index in step.inputs:
                consumers.setdefault(index, []).append(step)
        return consumers

    def with_steps(self, steps):
        return replace(self, steps=list(steps))

    def __repr__(self):
        return f"Graph({self.name!r}, {len(self.steps)} steps)"


def pull_back(function, inputs, cotangent):
    """Evaluate ``outputs = function(*inputs)`` and pull ``cotangent`` back to the inputs.

    Returns ``(outputs, [Jᵀ c for each input])``, the vector-Jacobian product
    with ``c = cotangent(outputs)`` (a callable, so rules can divide by the
    outputs) or ``c = cotangent``. ``outputs`` may be a tensor or a list of
    tensors (then ``c`` is a list too). This is the one `tf.GradientTape`
    call of the propagation methods; every rule is written in terms of it.
    """
    sources = [tf.identity(value) for value in inputs]  # repeated inputs get their own gradients
    with tf.GradientTape() as tape:
        tape.watch(sources)
        outputs = function(*sources)
    weights = cotangent(outputs) if callable(cotangent) else cotangent
    grads = tape.gradient(outputs, sources, output_gradients=weights,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return outputs, grads


def fused_elementwise(function):
    """``function`` (elementwise tensor arithmetic only) compiled by XLA into one loop per input shape.

    As separate TensorFlow ops, each step of such arithmetic reads and writes
    whole activations; in the propagation rules (LRP's ratios R / stabilise(z′),
    RevealCancel's multipliers) that cost as much as the convolutions.
    """
    return tf.function(function, jit_compile=True, reduce_retracing=True, autograph=False)


# --------------------------------------------------------------------- trace
def trace(model, method):
    """Trace a Keras model with one input and one output into a `Graph`.

    Args:
        model: a built Keras 3 Sequential or Functional model (nested models allowed).
        method: the method's name, used in error messages.

    Raises:
        UnsupportedLayerError: for a layer no rule set handles, naming the
            layer, its type and ``method``.
    """
    tracer = _Tracer(method)
    functional = _functional(model, method)
    if len(functional.inputs) != 1 or len(functional.outputs) != 1:
        raise ValueError(f"{method} needs a model with one input and one output; {model.name!r} has "
                         f"{len(functional.inputs)} inputs and {len(functional.outputs)} outputs.")
    input_id = tracer.new_id()
    (output_id,) = tracer.inline(model, [input_id], prefix="")
    return Graph(name=model.name, steps=tracer.steps, input=input_id, output=output_id)


def _functional(model, method):
    if isinstance(model, keras.Sequential):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise ValueError(
                f"{method} needs a built model; the Sequential model {model.name!r} has no known input "
                "shape. Start it with keras.Input(shape) or call it on data once."
            )
        return functional
    if not hasattr(model, "_nodes_by_depth"):
        raise UnsupportedLayerError(
            f"{method} walks the layer graph of Sequential and Functional models; {model.name!r} "
            f"({type(model).__name__}) is a subclassed model without one. Rebuild it with the functional API."
        )
    return model


class _Tracer:
    def __init__(self, method):
        self.method = method
        self.steps = []
        self._count = 0

    def new_id(self):
        self._count += 1
        return self._count

    def inline(self, model, input_ids, prefix):
        functional = _functional(model, self.method)
        ids = {id(tensor): index for tensor, index in zip(functional.inputs, input_ids)}
        for depth in sorted(functional._nodes_by_depth, reverse=True):
            for node in functional._nodes_by_depth[depth]:
                if node.is_input or not all(id(tensor) in ids for tensor in node.input_tensors):
                    continue
                inputs = [ids[id(tensor)] for tensor in node.input_tensors]
                operation = node.operation
                if isinstance(operation, keras.Model):
                    outputs = self.inline(operation, inputs, f"{prefix}{operation.name}/")
                else:
                    outputs = [self.add_layer(operation, node, inputs, prefix + operation.name)]
                if len(outputs) != len(node.outputs):
                    raise UnsupportedLayerError(
                        f"{self.method}: layer {operation.name!r} ({type(operation).__name__}) has "
                        f"{len(node.outputs)} outputs; only layers with one output are supported."
                    )
                for tensor, index in zip(node.outputs, outputs):
                    ids[id(tensor)] = index
        return [ids[id(tensor)] for tensor in functional.outputs]

    def add(self, kind, layer, name, inputs, call, **fields):
        output = self.new_id()
        self.steps.append(Step(kind=kind, layer=layer, name=name, inputs=tuple(inputs), output=output,
                               call=call, **fields))
        return output

    def add_layer(self, layer, node, inputs, name):
        """Append the step(s) of one layer; return the id of its output tensor."""
        shapes = [tuple(tensor.shape) for tensor in node.input_tensors]
        _check_layout(layer, name, shapes[0] if shapes else (), self.method)
        if isinstance(layer, _NO_OPS):
            return inputs[0]
        if isinstance(layer, _SEPARABLE):
            return self.add_separable(layer, name, inputs)
        if isinstance(layer, (_layers.Dense, *_CONVOLUTIONS, *_DEPTHWISE)):
            depthwise = isinstance(layer, _DEPTHWISE)
            output = self.add("weighted", layer, name, inputs, _linear_call(layer),
                              params=_kernel_params(layer, "kernel", layer.bias, depthwise),
                              scale_output=_depthwise_scale if depthwise else _output_scale)
            return self.add_activation(layer, name, output, layer.activation)
        if isinstance(layer, _layers.BatchNormalization):
            return self.add("affine", layer, name, inputs, _affine_call, params=_batch_norm_params(layer))
        if isinstance(layer, (_layers.Rescaling, _layers.Normalization)):
            return self.add("affine", layer, name, inputs, _layer_call(layer))
        if isinstance(layer, _layers.Activation):
            return self.add_activation(layer, name, inputs[0], layer.activation, fused=False)
        if isinstance(layer, _ACTIVATIONS):
            return self.add("activation", layer, name, inputs, _layer_call(layer), activation=_layer_activation(layer))
        if isinstance(layer, _AVERAGE_POOLS):
            return self.add("pool", layer, name, inputs, _layer_call(layer))
        if isinstance(layer, _MAX_POOLS):
            return self.add("maxpool", layer, name, inputs, _layer_call(layer))
        if isinstance(layer, (_layers.Add, _layers.Average)):
            return self.add("merge", layer, name, inputs, _merge_call(layer))
        if isinstance(layer, _RESHAPES):
            call = _merge_call(layer) if isinstance(layer, _layers.Concatenate) else _layer_call(layer)
            return self.add("reshape", layer, name, inputs, call)
        if isinstance(layer, _layers.Multiply) and len(inputs) == 2:
            return self.add("gate", layer, name, inputs, _multiply_call, gate=self.find_gate(shapes, inputs))
        raise UnsupportedLayerError(
            f"{self.method} cannot propagate through layer {name!r} ({type(layer).__name__}): no rule "
            f"handles this layer type. Supported: Dense, Conv, DepthwiseConv, SeparableConv, pooling, "
            f"Add, Average, Concatenate, Multiply (gates), Flatten/Reshape/Padding/Cropping, "
            f"BatchNormalization, Rescaling, Normalization, Dropout and elementwise activations."
        )

    def add_activation(self, layer, name, input_id, activation, fused=True):
        function_name = getattr(activation, "__name__", "")
        if activation is None or function_name == "linear":
            return input_id
        if function_name in _NOT_ELEMENTWISE:
            raise UnsupportedLayerError(
                f"{self.method} cannot propagate through the {function_name} of layer {name!r} "
                f"({type(layer).__name__}): it is not elementwise. Explain the logits before it."
            )
        return self.add("activation", layer, name + ("/activation" if fused else ""), [input_id],
                        lambda inputs, params: activation(inputs[0]), activation=function_name)

    def add_separable(self, layer, name, inputs):
        depthwise = self.add(
            "weighted", layer, name + "/depthwise", inputs,
            _depthwise_call(layer), params=_kernel_params(layer, "depthwise_kernel", None, depthwise=True),
            scale_output=_depthwise_scale,
        )
        pointwise = self.add(
            "weighted", layer, name + "/pointwise", [depthwise],
            _pointwise_call, params=_kernel_params(layer, "pointwise_kernel", layer.bias, depthwise=False),
            scale_output=_output_scale,
        )
        return self.add_activation(layer, name, pointwise, layer.activation)

    def find_gate(self, shapes, inputs):
        """The gate of ``signal * gate``: the input with fewer elements, else the one after a sigmoid."""
        sizes = [_element_count(shape[1:]) for shape in shapes]
        if None not in sizes and sizes[0] != sizes[1]:
            return 0 if sizes[0] < sizes[1] else 1
        producers = {step.output: step for step in self.steps}
        after_sigmoid = [
            index for index, tensor_id in enumerate(inputs)
            if tensor_id in producers and producers[tensor_id].activation in _GATE_ACTIVATIONS
        ]
        return after_sigmoid[0] if len(after_sigmoid) == 1 else None


# ------------------------------------------------------------ layer calls
def _layer_call(layer):
    return lambda inputs, params: layer(inputs[0])


def _merge_call(layer):
    return lambda inputs, params: layer(list(inputs))


def _multiply_call(inputs, params):
    return inputs[0] * inputs[1]


def _affine_call(inputs, params):
    return inputs[0] * params["scale"] + params["shift"]


def _linear_call(layer):
    if isinstance(layer, _layers.Dense):
        apply = keras.ops.matmul
    elif isinstance(layer, _DEPTHWISE):
        apply = lambda x, kernel: keras.ops.depthwise_conv(
            x, kernel, strides=layer.strides, padding=layer.padding, dilation_rate=layer.dilation_rate,
            data_format=layer.data_format)
    else:
        apply = layer.convolution_op
    return lambda inputs, params: apply(inputs[0], params["kernel"]) + params["bias"]


def _depthwise_call(layer):
    return lambda inputs, params: keras.ops.depthwise_conv(
        inputs[0], params["kernel"], strides=layer.strides, padding=layer.padding,
        dilation_rate=layer.dilation_rate, data_format=layer.data_format) + params["bias"]


def _pointwise_call(inputs, params):
    return keras.ops.conv(inputs[0], params["kernel"], strides=1, padding="valid") + params["bias"]


def _kernel_params(layer, kernel_name, bias, depthwise):
    """``kernel`` and ``bias`` (zeros when the layer has none) of a weighted step."""
    def params():
        kernel = tf.convert_to_tensor(getattr(layer, kernel_name))
        channels = kernel.shape[-2] * kernel.shape[-1] if depthwise else kernel.shape[-1]
        return {"kernel": kernel,
                "bias": tf.zeros([channels], kernel.dtype) if bias is None else tf.convert_to_tensor(bias)}
    return params


def _batch_norm_params(layer):
    def params():
        variance = tf.convert_to_tensor(layer.moving_variance)
        scale = tf.math.rsqrt(variance + layer.epsilon)
        if layer.scale:
            scale = scale * tf.convert_to_tensor(layer.gamma)
        shift = -tf.convert_to_tensor(layer.moving_mean) * scale
        if layer.center:
            shift = shift + tf.convert_to_tensor(layer.beta)
        return {"scale": scale, "shift": shift}
    return params


def _output_scale(kernel, scale):
    return kernel * scale


def _depthwise_scale(kernel, scale):
    return kernel * tf.reshape(scale, kernel.shape[-2:])


def _check_layout(layer, name, input_shape, method):
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format not in (None, "channels_last"):
        raise UnsupportedLayerError(
            f"{method} supports channels_last models only; layer {name!r} ({type(layer).__name__}) "
            f"uses {data_format}."
        )
    if isinstance(layer, _layers.BatchNormalization):
        if layer.axis not in (-1, len(input_shape) - 1):
            raise UnsupportedLayerError(
                f"{method} supports BatchNormalization over the last axis only; layer {name!r} "
                f"normalises axis {layer.axis}."
            )


def _element_count(shape):
    count = 1
    for size in shape:
        if size is None:
            return None
        count *= size
    return count


def _layer_activation(layer):
    """The name of an activation layer's function (``"relu"`` only for a ReLU that never goes below 0)."""
    if isinstance(layer, _layers.ReLU):
        return "relu" if not layer.negative_slope and layer.threshold >= 0 else "leaky_relu"
    names = ((_layers.LeakyReLU, "leaky_relu"), (_layers.ELU, "elu"), (_layers.PReLU, "prelu"))
    return next(name for kind, name in names if isinstance(layer, kind))
