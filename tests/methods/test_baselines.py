"""Baselines x′: named ones, constants, arrays and stacks, value ranges, errors."""

import numpy as np
import pytest

from xai_widgets.baselines import gaussian_blur, infer_value_range, resolve_baseline


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0.1, 0.9, size=(2, 9, 7, 3)).astype("float32")


@pytest.mark.parametrize("low, high, expected", [
    (0.1, 0.9, (0.0, 1.0)), (3.0, 200.0, (0.0, 255.0)), (-0.5, 0.5, (-1.0, 1.0)), (-3.0, 7.0, (-3.0, 7.0)),
])
def test_the_value_range_is_inferred_from_the_data(low, high, expected):
    assert infer_value_range(np.array([low, high], np.float32)) == expected


def test_black_and_white_are_the_ends_of_the_value_range(images):
    black = resolve_baseline("black", images)
    white = resolve_baseline("white", images * 255)
    assert black.shape == (1, *images.shape) and black.dtype == np.float32
    assert np.all(black == 0.0) and np.all(white == 255.0)
    assert np.all(resolve_baseline("white", images, value_range=(-1, 2)) == 2.0)


def test_blur_keeps_constant_images_and_smooths_the_others(images):
    constant = np.full((1, 9, 7, 3), 0.3, np.float32)
    np.testing.assert_allclose(resolve_baseline("blur", constant)[0], constant, rtol=1e-6)
    blurred = resolve_baseline("blur", images, blur_sigma=2.0)[0]
    assert blurred.std(axis=(1, 2)).max() < images.std(axis=(1, 2)).min()
    np.testing.assert_allclose(blurred.mean(axis=(1, 2)), images.mean(axis=(1, 2)), atol=0.05)


def test_gaussian_blur_matches_scipy_on_the_interior():
    from scipy.ndimage import gaussian_filter

    image = np.random.default_rng(1).uniform(size=(1, 32, 32, 1)).astype("float32")
    ours = gaussian_blur(image, 1.5)[0, 8:-8, 8:-8, 0]
    theirs = gaussian_filter(image[0, ..., 0].astype(np.float64), 1.5, truncate=3.0)[8:-8, 8:-8]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_noise_is_uniform_over_the_range_and_reproducible_with_a_seed(images):
    first = resolve_baseline("noise", images, seed=4)
    assert first.min() >= 0.0 and first.max() <= 1.0 and abs(first.mean() - 0.5) < 0.05
    np.testing.assert_array_equal(first, resolve_baseline("noise", images, seed=4))
    assert not np.array_equal(first, resolve_baseline("noise", images, seed=5))


def test_mean_is_each_images_mean_colour_everywhere(images):
    mean = resolve_baseline("mean", images)[0]
    np.testing.assert_allclose(mean, np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape),
                               rtol=1e-6)


def test_floats_and_arrays_broadcast_to_every_image(images):
    np.testing.assert_array_equal(resolve_baseline(0.25, images), np.full((1, *images.shape), 0.25, np.float32))
    one = np.random.default_rng(2).uniform(size=images.shape[1:]).astype("float32")
    np.testing.assert_array_equal(resolve_baseline(one, images)[0, 1], one)
    per_image = images[::-1].copy()
    np.testing.assert_array_equal(resolve_baseline(per_image, images)[0], per_image)


def test_a_stack_of_baselines_keeps_its_k_axis(images):
    stack_for_one = np.zeros((4, *images.shape[1:]), np.float32)
    assert resolve_baseline(stack_for_one, images[:1], single=True).shape == (4, 1, *images.shape[1:])
    stack_for_batch = np.zeros((3, *images.shape), np.float32)
    assert resolve_baseline(stack_for_batch, images).shape == (3, *images.shape)


@pytest.mark.parametrize("baseline, options, message", [
    ("grey", {}, "unknown baseline 'grey'"),
    (True, {}, "got a bool"),
    (np.zeros((9, 7, 2)), {}, "does not fit"),
    (np.zeros((5, 9, 7, 3)), {}, "baseline has 5 images but x has 2"),
    (np.full((9, 7, 3), np.nan), {}, "NaN or Inf"),
    ("blur", dict(blur_sigma=0), "blur_sigma must be a positive number"),
])
def test_bad_baselines_raise_a_clear_error(images, baseline, options, message):
    with pytest.raises(ValueError, match=message):
        resolve_baseline(baseline, images, **options)
