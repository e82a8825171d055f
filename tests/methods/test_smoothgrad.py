"""SmoothGrad, SmoothGrad² and VarGrad: limits, reproducibility, statistics, references, streaming."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets.methods.smoothgrad import NoiseSource, SmoothGrad, standard_normal
from xai_widgets.model import as_target_model

from .helpers import assert_close, reference_gradient


def squares(inputs):
    """F_0(x) = Σ x², F_1(x) = Σ x: analytic gradients 2x and 1."""
    import tensorflow as tf

    flat = tf.reshape(inputs, (tf.shape(inputs)[0], -1))
    return tf.stack([tf.reduce_sum(flat**2, axis=1), tf.reduce_sum(flat, axis=1)], axis=1)


# ------------------------------------------------------------------ limits
@pytest.mark.parametrize("sampling", ["antithetic", "iid"])
def test_smoothgrad_without_noise_equals_saliency(cnn, images, sampling):
    saliency = xw.saliency(cnn, images, target=2).values
    mean = xw.smoothgrad(cnn, images, 2, samples=6, noise=0.0, sampling=sampling, batch_size=4)
    square = xw.smoothgrad(cnn, images, 2, samples=6, noise=0.0, variant="square", sampling=sampling)
    variance = xw.smoothgrad(cnn, images, 2, samples=6, noise=0.0, variant="var", sampling=sampling)
    assert_close(mean.values, saliency, rel=1e-6)
    assert_close(square.values, saliency**2, rel=1e-6)
    assert np.max(variance.values) <= 1e-12 * np.max(saliency**2)


def test_smoothgrad_tends_to_saliency_as_noise_goes_to_zero(cnn, images):
    saliency = xw.saliency(cnn, images, target=1).values
    errors = [np.abs(xw.smoothgrad(cnn, images, 1, samples=8, noise=noise, seed=0).values - saliency).max()
              for noise in (1e-1, 1e-3, 1e-6)]
    assert errors[2] <= 1e-5 * np.abs(saliency).max() and errors[0] > errors[2]


# --------------------------------------------------------- reproducibility
def test_the_same_seed_gives_the_same_map_whatever_the_chunk_size(cnn, images):
    first = xw.smoothgrad(cnn, images, samples=7, seed=3, batch_size=2).values
    again = xw.smoothgrad(cnn, images, samples=7, seed=3, batch_size=5).values
    other = xw.smoothgrad(cnn, images, samples=7, seed=4, batch_size=2).values
    np.testing.assert_allclose(first, again, rtol=1e-6, atol=1e-7)
    assert np.abs(first - other).max() > 1e-3 * np.abs(first).max()


def test_without_seed_every_call_draws_fresh_noise(cnn, images):
    explainer = SmoothGrad(cnn, samples=4)
    assert np.abs(explainer(images, 0).values - explainer(images, 0).values).max() > 0


def test_antithetic_noise_comes_in_opposite_pairs_and_iid_does_not():
    size = 50
    antithetic, iid = NoiseSource(0, (size,), True), NoiseSource(0, (size,), False)
    drawn = {name: np.empty((4, size), np.float32) for name in ("antithetic", "iid")}
    for sample in range(4):
        drawn["antithetic"][sample] = antithetic.vector(sample)
        drawn["iid"][sample] = iid.vector(sample)
    np.testing.assert_array_equal(drawn["antithetic"][1], -drawn["antithetic"][0])
    np.testing.assert_array_equal(drawn["antithetic"][3], -drawn["antithetic"][2])
    assert np.abs(drawn["iid"][1] + drawn["iid"][0]).min() > 0


def test_box_muller_noise_is_standard_normal():
    values = standard_normal(np.random.default_rng(0), 400_000)
    assert values.dtype == np.float32 and values.shape == (400_000,)
    assert abs(values.mean()) < 0.01 and values.std() == pytest.approx(1.0, abs=0.01)
    from scipy import stats

    assert stats.kstest(values, "norm").pvalue > 0.01


# ---------------------------------------------------------------- statistics
@pytest.mark.parametrize("sampling", ["antithetic", "iid"])
def test_noise_is_a_fraction_of_each_images_value_range(sampling):
    """F = Σ x²: ∇F = 2(x + ε), so SmoothGrad ≈ 2x and VarGrad ≈ 4σ², with σ = noise · (max − min)."""
    x = np.stack([np.linspace(0, 1, 192), np.linspace(-2, 2, 192)]).reshape(2, 8, 8, 3).astype("float32")
    sigmas = 0.2 * np.array([1.0, 4.0])
    variance = xw.smoothgrad(squares, x, 0, samples=400, noise=0.2, seed=1, variant="var", sampling=sampling)
    np.testing.assert_allclose(variance.values.reshape(2, -1).mean(axis=1), 4 * sigmas**2, rtol=0.05)
    mean = xw.smoothgrad(squares, x, 0, samples=400, noise=0.2, seed=1, sampling=sampling)
    np.testing.assert_allclose(mean.values, 2 * x, atol=4 * 2 * sigmas.max() / np.sqrt(400))


def test_vargrad_is_never_negative_and_is_the_mean_square_minus_the_squared_mean(cnn, images):
    options = dict(samples=9, noise=0.3, seed=2, batch_size=4)
    variance = xw.smoothgrad(cnn, images, 0, variant="var", **options).values
    square = xw.smoothgrad(cnn, images, 0, variant="square", **options).values
    mean = xw.smoothgrad(cnn, images, 0, **options).values
    assert variance.min() >= 0.0
    assert_close(variance, square - mean**2, rel=1e-4)


@pytest.mark.parametrize("batch_size", [4, 6])  # chunks across samples; chunks of whole samples (3 images)
@pytest.mark.parametrize("variant", ["mean", "square", "var"])
@pytest.mark.parametrize("sampling", ["antithetic", "iid"])
def test_smoothgrad_agrees_with_an_eager_tape_per_noisy_copy(cnn, images, variant, sampling, batch_size):
    samples, noise = 5, 0.2
    a = xw.smoothgrad(cnn, images, [0, 1, 4], samples=samples, noise=noise, seed=7, variant=variant,
                      sampling=sampling, batch_size=batch_size)
    source = NoiseSource(7, images.shape[1:], sampling == "antithetic")
    ranges = images.reshape(3, -1).max(axis=1) - images.reshape(3, -1).min(axis=1)
    gradients = np.empty((samples, *images.shape), np.float32)
    for sample in range(samples):  # the same noise draws, then one eager tape per noisy copy
        vector = source.vector(sample)
        for index, target in enumerate([0, 1, 4]):
            epsilon = np.float32(noise * ranges[index]) * vector
            gradients[sample, index], _ = reference_gradient(cnn, images[index] + epsilon.reshape(8, 8, 3), target)
    expected = {"mean": gradients.mean(axis=0), "square": (gradients**2).mean(axis=0),
                "var": gradients.var(axis=0)}[variant]
    assert_close(a.values, expected, rel=1e-5)


# ----------------------------------------------------------------- streaming
def test_stream_yields_running_means_after_each_chunk_and_ends_with_the_full_call(cnn, images):
    explainer = SmoothGrad(cnn, samples=10, seed=5, batch_size=6)
    partials = list(explainer.stream(images[:2], 3))
    assert [p.step for p in partials] == [3, 6, 9, 10]
    assert [p.evaluations for p in partials] == [3, 6, 9, 10] and partials[-1].progress == 1.0
    assert np.array_equal(partials[-1].values, explainer(images[:2], 3).values)
    first_three = xw.smoothgrad(cnn, images[:2], 3, samples=3, seed=5, batch_size=6).values
    assert_close(partials[0].values, first_three, rel=1e-6)


def test_changing_samples_noise_seed_variant_or_target_never_retraces(cnn, images):
    wrapped = as_target_model(cnn)
    xw.smoothgrad(cnn, images, samples=2)
    traces = wrapped.traces
    for options, target in [(dict(samples=5), 1), (dict(samples=3, noise=0.5, seed=1), [0, 1, 2]),
                            (dict(variant="var", sampling="iid"), None), (dict(samples=1, batch_size=1), 4)]:
        xw.smoothgrad(cnn, images, target, **options)
    assert wrapped.traces == traces


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(samples=0), "samples must be an int ≥ 1"),
        (dict(samples=2.0), "samples must be an int"),
        (dict(noise=-0.1), "noise must be a number ≥ 0"),
        (dict(noise=float("nan")), "noise must be a number ≥ 0"),
        (dict(noise="high"), "noise must be a number"),
        (dict(variant="median"), "unknown variant 'median'"),
        (dict(sampling="sobol"), "unknown sampling 'sobol'"),
        (dict(seed="one"), "seed must be an int or None"),
        (dict(batch_size=0), "batch_size must be a positive int"),
    ],
)
def test_bad_options_raise_a_clear_error(cnn, options, message):
    with pytest.raises(ValueError, match=message):
        SmoothGrad(cnn, **options)


@pytest.mark.parametrize(
    "x, target, message",
    [
        (np.zeros((8, 8)), None, "one image"),
        (np.full((1, 8, 8, 3), np.inf), None, "NaN or Inf"),
        (np.zeros((1, 8, 8, 3), dtype=complex), None, "real numbers"),
        (np.zeros((2, 8, 8, 3)), 9, "out of range"),
    ],
)
def test_bad_inputs_raise_a_clear_error(cnn, x, target, message):
    with pytest.raises(ValueError, match=message):
        xw.smoothgrad(cnn, x, target, samples=2)
