"""Receptive fields (the dataset-example crops) match where the input actually reaches a position."""

import numpy as np
import pytest

from xai_widgets._backend import keras, tf
from xai_widgets.summit import receptive_fields



def field_model():
    inputs = keras.Input((21, 20, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", use_bias=False, name="a")(inputs)
    b = keras.layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False, name="b")(a)
    c = keras.layers.AveragePooling2D(2, name="c")(b)
    d = keras.layers.ZeroPadding2D(((1, 0), (2, 1)), name="d")(c)
    e = keras.layers.Conv2D(2, 3, dilation_rate=2, use_bias=False, name="e")(d)
    wide = keras.layers.Conv2D(2, 5, padding="same", use_bias=False, name="wide")(b)
    narrow = keras.layers.Conv2D(2, 1, use_bias=False, name="narrow")(b)
    f = keras.layers.Add(name="f")([wide, narrow])
    g = keras.layers.Cropping2D(((1, 0), (0, 1)), name="g")(f)
    model = keras.Model(inputs, [e, g])
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(0.5, 1.0, weight.shape).astype("float32") for weight in layer.weights])
    return model


def support_box(model, layer, row, column):
    """Bounding box of the input pixels with a nonzero gradient of output (row, column, channel 0)."""
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    image = tf.ones((1, *model.inputs[0].shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(image)
        value = probe(image)[0, row, column, 0]
    rows, columns = np.nonzero(tape.gradient(value, image).numpy()[0, ..., 0])
    return rows.min(), columns.min(), rows.max() + 1, columns.max() + 1


def clipped_field_boxes(model, layer):
    (field,) = receptive_fields(model, [model.get_layer(layer)])
    height, width = model.get_layer(layer).output.shape[1:3]
    image_height, image_width = model.inputs[0].shape[1:3]
    for row, column in [(0, 0), (height // 2, width // 2), (height - 1, width - 1)]:
        top, left, bottom, right = field.box(row, column)
        yield row, column, (max(top, 0), max(left, 0), min(bottom, image_height), min(right, image_width))


@pytest.mark.parametrize("layer", ["a", "b", "c", "f", "g"])
def test_the_receptive_field_is_the_support_of_the_gradient(layer):
    model = field_model()
    for row, column, box in clipped_field_boxes(model, layer):
        assert box == support_box(model, layer, row, column), (layer, row, column)


def test_after_padding_and_dilation_the_field_spans_the_support():
    # taps of a dilated kernel skip rows, and taps in the zero padding see no input, so the
    # gradient's support can be smaller than the field; it never reaches outside it
    model = field_model()
    for row, column, box in clipped_field_boxes(model, "e"):
        top, left, bottom, right = support_box(model, "e", row, column)
        assert box[0] <= top and box[1] <= left and bottom <= box[2] and right <= box[3]
        assert top - box[0] <= 2 * 4 and box[2] - bottom <= 2 * 4  # at most one skipped tap (4 input pixels)


def test_an_unknown_resampling_layer_makes_the_field_unknown():
    inputs = keras.Input((8, 8, 1))
    up = keras.layers.UpSampling2D(name="up")(keras.layers.Conv2D(1, 3, name="conv")(inputs))
    model = keras.Model(inputs, up)
    assert receptive_fields(model, [model.get_layer("conv"), model.get_layer("up")])[1] is None
