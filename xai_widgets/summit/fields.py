"""Receptive fields: where a feature-map position looks in the input (for the dataset-example crops)."""

from dataclasses import dataclass

from .._backend import keras
from .layers import CONVOLUTIONS, as_list, output_shape


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
        inputs = as_list(layer.input)
        known = [fields.get(id(tensor)) for tensor in inputs]
        result = None if any(item is None for item in known) else _layer_field(layer, inputs, known)
        for tensor in as_list(layer.output):
            fields[id(tensor)] = result
    return [fields.get(id(layer.output)) for layer in layers]


def _layer_field(layer, inputs, known):
    shape = output_shape(layer)
    if shape is None or any(len(tensor.shape) != 4 for tensor in inputs):
        return None
    window = _window(layer)
    if window is not None:
        return _grow(known[0], inputs[0].shape[1:3], shape[1:3], *window)
    shift = _shift(layer)
    if shift is not None:
        field = known[0]
        offset = tuple(field.offset[axis] + shift[axis] * field.jump[axis] for axis in range(2))
        return ReceptiveField(field.jump, offset, field.size)
    same_resolution = all(tuple(tensor.shape[1:3]) == shape[1:3] for tensor in inputs)
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
