"""Guided backprop: against an eager reference with custom-gradient ReLUs, on linear models, zoo and applications."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras, tf

from .helpers import linear_model, reference_gradient
from .propagation_models import APPLICATIONS, application, application_images, chain_cnn


@tf.custom_gradient
def guided_relu(x):
    def backward(upstream):
        return upstream * tf.cast(x > 0, x.dtype) * tf.cast(upstream > 0, x.dtype)

    return tf.nn.relu(x), backward


def reference_guided_gradient(model, image, target):
    """Springenberg et al.'s guided gradient of a Conv2D/Dense/pooling chain, written out with tf.nn ops."""
    x = tf.constant(image[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(x)
        a = x
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                if isinstance(layer, keras.layers.Conv2D):
                    z = tf.nn.conv2d(a, layer.kernel, strides=layer.strides, padding=layer.padding.upper())
                else:
                    z = tf.matmul(a, layer.kernel)
                z = z if layer.bias is None else z + layer.bias
                a = guided_relu(z) if layer.activation.__name__ == "relu" else z
            else:
                a = layer(a)  # pooling, Flatten: their ordinary gradients
        score = a[0, target]
    return tape.gradient(score, x).numpy()[0]


def test_guided_backprop_matches_the_custom_gradient_reference():
    model = chain_cnn(bias=True)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 10, 10, 3)).astype("float32")
    result = xw.guided_backprop(model, images, target=[0, 1, 3])
    for image, target, values in zip(images, [0, 1, 3], result.values):
        expected = reference_guided_gradient(model, image, target)
        assert np.abs(values - expected).max() <= 1e-5 * np.abs(expected).max()
    assert np.abs(result.values).max() > 0


def test_guided_backprop_is_the_gradient_where_there_are_no_activations():
    model, weights = linear_model()
    images = np.random.default_rng(2).normal(size=(2, 6, 5, 3)).astype("float32")
    result = xw.guided_backprop(model, images, target=1)
    np.testing.assert_allclose(result.values, np.broadcast_to(weights[..., 1], images.shape), rtol=1e-6)


def test_guided_backprop_differs_from_the_gradient_on_a_relu_network():
    model = chain_cnn(bias=True)
    image = np.random.default_rng(3).uniform(0, 1, (10, 10, 3)).astype("float32")
    guided = xw.guided_backprop(model, image, target=2).values
    gradient, _ = reference_gradient(model, image, 2)
    assert np.abs(guided - gradient).max() > 1e-3 * np.abs(gradient).max()


@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet"])
def test_guided_backprop_runs_on_the_zoo_models(name):
    model = xw.zoo.load(name)
    images, labels, _ = xw.zoo.shapes(3, seed=2)
    result = xw.guided_backprop(model, images, target=labels)
    assert result.values.shape == images.shape and np.isfinite(result.values).all()
    assert (np.abs(result.values).reshape(3, -1).max(axis=1) > 0).all()
    if name == "shapes_cnn":  # a plain chain: the reference applies
        for image, label, values in zip(images, labels, result.values):
            expected = reference_guided_gradient(model, image, label)
            assert np.abs(values - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_guided_backprop_runs_on_keras_applications(name):
    result = xw.guided_backprop(application(name), application_images(name))
    assert np.isfinite(result.values).all()
    assert (np.abs(result.values).reshape(len(result.values), -1).max(axis=1) > 0).all()
