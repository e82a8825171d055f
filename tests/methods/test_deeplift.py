"""DeepLIFT: exact answers on linear models, the LRP equivalence, summation-to-delta, RevealCancel, models."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras
from xai_widgets.baselines import resolve_baseline

from . import reference_lrp
from .helpers import linear_model, reference_gradient
from .propagation_models import (APPLICATIONS, application, application_images, branchy_net, chain_cnn,
                                 everything_net, random_biases)

RULES = ["rescale", "reveal_cancel"]


def images_for(model, count=2, seed=0):
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(0.0, 1.0, (count, *shape)).astype("float32")


def assert_sums_to_delta(result, tolerance=1e-3):
    difference = np.asarray(result.outputs, np.float64) - result.baseline_outputs
    totals = result.values.reshape(len(result.values), -1).sum(axis=1, dtype=np.float64)
    np.testing.assert_allclose(result.delta, totals - difference, atol=1e-5 * np.abs(difference).max())
    assert (np.abs(result.delta) <= tolerance * np.abs(difference)).all(), (result.delta, difference)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("baseline", [0.0, 0.3, "blur", "mean", "noise"])
def test_deeplift_equals_ig_equals_difference_times_weights_on_a_linear_model(rule, baseline):
    model, weights = linear_model(bias=True)
    images = np.random.default_rng(1).normal(size=(3, 6, 5, 3)).astype("float32")
    result = xw.deeplift(model, images, target=2, baseline=baseline, rule=rule, seed=4)
    references = resolve_baseline(baseline, images, seed=4)[0]
    expected = (images - references) * weights[..., 2]
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    ig = xw.integrated_gradients(model, images, target=2, baseline=references, steps=2)
    np.testing.assert_allclose(result.values, ig.values, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_rescale_with_a_zero_baseline_equals_lrp_epsilon_on_a_bias_free_relu_network():
    # Ancona et al. 2018: with x′ = 0 and no biases every ReLU multiplier is Δy/Δx = 1[x > 0], the
    # max-pool winners of x take all, and DeepLIFT-Rescale, LRP-ε (ε → 0) and gradient × input coincide.
    model = branchy_net(bias=False)
    images = images_for(model, 3)
    deeplift = xw.deeplift(model, images, target=[1, 2, 3], baseline=0.0)
    lrp = xw.lrp(model, images, target=[1, 2, 3], rule="epsilon", epsilon=1e-9)
    assert np.abs(deeplift.values - lrp.values).max() <= 1e-4 * np.abs(lrp.values).max()


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("baseline", [0.0, "blur", "noise", 0.7])
def test_summation_to_delta_on_a_network_with_biases_batchnorm_gates_and_pooling(rule, baseline):
    model = everything_net()
    result = xw.deeplift(model, images_for(model, 3), baseline=baseline, rule=rule, seed=7)
    assert_sums_to_delta(result)


def max_pool_model():
    """F(x) = max of a 2×2 window of one channel."""
    inputs = keras.Input((2, 2, 1))
    pooled = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(inputs))
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    return keras.Model(inputs, dense(pooled))


def test_the_max_pool_multiplier_keeps_summation_to_delta_where_the_gradient_does_not():
    model = max_pool_model()
    image = np.array([[1.0, 0.0], [0.0, 0.0]], "float32")[..., None]
    reference = np.array([[0.0, 0.0], [0.0, 2.0]], "float32")[..., None]   # F(x) = 1, F(x′) = 2
    result = xw.deeplift(model, image, target=0, baseline=reference)
    # the window's maximum falls by 1: all of it through the winner on x′, none through the winner on x
    np.testing.assert_allclose(result.values[..., 0], [[0.0, 0.0], [0.0, -1.0]], atol=1e-6)
    assert abs(result.delta) < 1e-6
    gradient, _ = reference_gradient(model, image, 0)  # the chain rule routes everything to x's winner
    assert (gradient * (image - reference)).sum() == pytest.approx(1.0)  # but F(x) − F(x′) = −1


def cancelling_model():
    """F(x) = relu(x₁ − x₂): at x = (1, 1), x′ = 0 the two inputs cancel exactly."""
    inputs = keras.Input((1, 2, 1))
    hidden = keras.layers.Dense(1, use_bias=False, activation="relu", kernel_initializer="ones")
    hidden_output = hidden(keras.layers.Flatten()(inputs))
    output = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(hidden_output)
    model = keras.Model(inputs, output)
    hidden.kernel.assign(np.array([[1.0], [-1.0]], "float32"))
    return model


def test_reveal_cancel_reveals_contributions_that_cancel_where_rescale_shows_none():
    model = cancelling_model()
    image = np.ones((1, 2, 1), "float32")
    rescale = xw.deeplift(model, image, target=0, baseline=0.0, rule="rescale")
    reveal = xw.deeplift(model, image, target=0, baseline=0.0, rule="reveal_cancel")
    np.testing.assert_allclose(rescale.values.ravel(), [0.0, 0.0], atol=1e-7)
    # Δy⁺ = ½(relu(1) − 0) + ½(relu(0) − relu(−1)) = ½ over Δx⁺ = 1; Δy⁻ = −½ over Δx⁻ = −1
    np.testing.assert_allclose(reveal.values.ravel(), [0.5, -0.5], atol=1e-6)
    assert abs(reveal.delta) < 1e-6


def relu_chain_without_max_pooling(seed=0):
    """Conv/Conv(stride 2)/AvgPool/Flatten/Dense/Dense with ReLUs and random biases."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    hidden = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = keras.layers.Flatten()(keras.layers.AveragePooling2D(2)(hidden))
    hidden = keras.layers.Dense(8, activation="relu")(hidden)
    return random_biases(keras.Model(inputs, keras.layers.Dense(3)(hidden)), seed)


@pytest.mark.parametrize("baseline", [0.0, 0.6])
def test_reveal_cancel_matches_the_numpy_reference_that_carries_both_parts(baseline):
    model = relu_chain_without_max_pooling()
    images = images_for(model, 2, seed=3)
    for image, target in zip(images, [0, 2]):
        expected = reference_lrp.reveal_cancel(model, image, np.full_like(image, baseline), target)
        result = xw.deeplift(model, image, target=target, baseline=baseline, rule="reveal_cancel")
        assert np.abs(result.values - expected).max() <= 1e-4 * np.abs(expected).max()


def test_reveal_cancel_and_rescale_differ_but_both_sum_to_delta():
    model = chain_cnn(bias=True)
    images = images_for(model, 3)
    rescale = xw.deeplift(model, images, baseline="blur", rule="rescale")
    reveal = xw.deeplift(model, images, baseline="blur", rule="reveal_cancel")
    assert_sums_to_delta(rescale)
    assert_sums_to_delta(reveal)
    assert np.abs(rescale.values - reveal.values).max() > 1e-3 * np.abs(rescale.values).max()


def test_a_stack_of_baselines_averages_the_attributions():
    model = chain_cnn(bias=True)
    image = images_for(model, 1)[0]
    stack = np.stack([np.zeros_like(image), np.full_like(image, 0.5), image[::-1]])
    averaged = xw.deeplift(model, image, target=1, baseline=stack)
    singles = [xw.deeplift(model, image, target=1, baseline=reference) for reference in stack]
    np.testing.assert_allclose(averaged.values, np.mean([single.values for single in singles], axis=0),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(averaged.baseline_outputs, np.mean([s.baseline_outputs for s in singles]),
                               rtol=1e-5)
    assert averaged.evaluations == 3
    assert abs(averaged.delta) <= 1e-3 * abs(averaged.outputs - averaged.baseline_outputs)


@pytest.mark.parametrize("options, message", [
    (dict(rule="linear"), "unknown DeepLIFT rule"),
    (dict(baseline="grey"), "unknown baseline"),
])
def test_bad_options_raise_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        xw.DeepLIFT(chain_cnn(), **options)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet"])
def test_summation_to_delta_on_the_zoo_models(name, rule):
    model = xw.zoo.load(name)
    images, _, _ = xw.zoo.shapes(4, seed=5)
    for baseline in (0.0, "blur"):
        result = xw.deeplift(model, images, baseline=baseline, rule=rule)
        assert np.isfinite(result.values).all()
        assert_sums_to_delta(result)


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_summation_to_delta_on_keras_applications(name, rule):
    model = application(name, "calibrated")
    result = xw.deeplift(model, application_images(name), baseline=0.0, rule=rule)
    assert np.isfinite(result.values).all()
    assert_sums_to_delta(result)
