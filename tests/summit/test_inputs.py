"""Bad arguments to `summarize` fail at once with a message that says what to do."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras, tf
from xai_widgets.summit import default_layers

from .helpers import random_data, residual_cnn, small_cnn


@pytest.fixture(scope="module")
def model():
    return small_cnn()


@pytest.mark.parametrize("options, message", [
    (dict(mass=0), "mass"), (dict(mass=1.5), "mass"), (dict(top_k=0), "top_k"), (dict(top_channels=2.5), "top_channels"),
    (dict(examples=0), "examples"), (dict(influence="lrp"), "influence"),
    (dict(into="kept_only"), "into"), (dict(progress="yes"), "progress"),
    (dict(batch_size=0), "batch_size"), (dict(strategy="mirrored"), "tf.distribute.Strategy"),
    (dict(layers=["nope"]), "nope"), (dict(layers=["c2", "c1"]), "graph order"), (dict(layers=[]), "at least one"),
    (dict(layers=["c1", "c1"]), "distinct"),
])
def test_bad_options_are_refused(model, options, message):
    with pytest.raises(ValueError, match=message):
        xw.summarize(model, random_data(4), **options)


def test_a_layer_without_feature_maps_is_refused():
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    flat = keras.layers.Flatten(name="flat")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2)(flat))
    with pytest.raises(ValueError, match="feature maps"):
        xw.summarize(model, random_data(2, classes=2, shape=(8, 8, 3)), layers=["conv", "flat"])


@pytest.mark.parametrize("data, message", [
    (random_data(4)[0], "no labels"),
    ((random_data(4)[0], np.array([0, 1, 2])), "4 images but 3 labels"),
    ((random_data(4)[0], np.array([0, 1, 2, 7])), "out of range"),
    ((random_data(4)[0], np.array([0.5, 1, 2, 0])), "integer class"),
    ((np.zeros((4, 16, 16)), np.zeros(4, int)), "N, H, W, C"),
    ((np.full((2, 16, 16, 3), np.nan), np.zeros(2, int)), "NaN"),
    ((np.zeros((2, 8, 8, 3)), np.zeros(2, int)), "expects"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((2, 16, 16, 3)), np.zeros(2), np.zeros(2))), "pairs"),
])
def test_bad_data_is_refused(model, data, message):
    with pytest.raises(ValueError, match=message):
        xw.summarize(model, data, progress=False)


def test_a_callable_model_is_refused():
    with pytest.raises(ValueError, match="Keras model"):
        xw.summarize(lambda images: tf.zeros((len(images), 2)), random_data(2))


def test_summit_influence_needs_layers_joined_by_one_convolution():
    with pytest.raises(ValueError, match="merges 2 inputs"):
        xw.summarize(residual_cnn(), random_data(2), layers=["stem", "block"], influence="summit")
    with pytest.raises(ValueError, match="exactly one Conv2D"):
        xw.summarize(small_cnn(), random_data(2), layers=["c1", "c3"], influence="summit")


def test_the_default_layers_end_every_resolution_after_the_first_convolution():
    assert [layer.name for layer in default_layers(small_cnn())] == ["c1", "c2", "c3"]
    assert [layer.name for layer in default_layers(residual_cnn())] == ["block", "down"]


def test_progress_is_reported_to_a_callable(model):
    calls = []
    xw.summarize(model, random_data(10), batch_size=4, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
