"""From values to pictures: channel aggregates, clipping, sign, overlay, plot and PNG."""

import numpy as np
import pytest

from xai_widgets import render
from xai_widgets.attribution import Attribution


@pytest.fixture
def values():
    """Two 2×2 maps with 3 channels; pixel (0, 0) of map 0 is (3, -4, 0)."""
    v = np.zeros((2, 2, 2, 3), np.float32)
    v[0, 0, 0] = [3, -4, 0]
    v[0, 0, 1] = [1, 1, 1]
    v[0, 1, 0] = [-2, 0, 0]
    v[1] = 0.5
    return v


def attribution(values):
    batch = values.ndim == 4
    return Attribution(values=values, method="saliency", target=np.zeros(len(values)) if batch else 0,
                       outputs=np.zeros(len(values)) if batch else 0.0)


def test_max_abs_is_the_largest_magnitude_over_channels(values):
    np.testing.assert_allclose(render.aggregate_channels(values, "max_abs")[0], [[4, 1], [2, 0]])
    np.testing.assert_allclose(render.aggregate_channels(values, "max_abs", signed=True)[0], [[-4, 1], [-2, 0]])


def test_sum_and_l2_aggregate_the_channels(values):
    np.testing.assert_allclose(render.aggregate_channels(values, "sum")[0], [[1, 3], [2, 0]])
    np.testing.assert_allclose(render.aggregate_channels(values, "sum", signed=True)[0], [[-1, 3], [-2, 0]])
    np.testing.assert_allclose(render.aggregate_channels(values, "l2")[0], [[5, np.sqrt(3)], [2, 0]], rtol=1e-6)


def test_heatmap_scales_each_map_by_its_clip_percentile_into_the_unit_range(values):
    maps = attribution(values).heatmap("max_abs", clip=100)
    np.testing.assert_allclose(maps[0], [[1, 0.25], [0.5, 0]])
    np.testing.assert_allclose(maps[1], np.ones((2, 2)))  # each map normalised on its own


def test_clip_saturates_values_above_the_percentile():
    ramp = np.arange(100, dtype=np.float32).reshape(10, 10, 1)
    maps = render.heatmap(ramp, "max_abs", clip=50)
    scale = np.percentile(np.arange(100), 50)
    assert maps.max() == 1.0 and np.sum(maps == 1.0) == np.sum(np.arange(100) >= scale)
    np.testing.assert_allclose(maps.ravel()[:10], np.arange(10) / scale, rtol=1e-6)


def test_signed_heatmaps_keep_the_sign_in_minus_one_to_one(values):
    maps = attribution(values).heatmap("sum", clip=100, signed=True)
    np.testing.assert_allclose(maps[0], [[-1 / 3, 1], [-2 / 3, 0]], rtol=1e-6)
    assert maps.min() >= -1 and maps.max() <= 1


def test_an_all_zero_map_stays_zero():
    np.testing.assert_array_equal(render.heatmap(np.zeros((4, 4, 3))), np.zeros((4, 4)))


@pytest.mark.parametrize("call, message", [
    (lambda v: render.heatmap(v, "mean"), "aggregate must be one of"),
    (lambda v: render.heatmap(v, "l2", signed=True), "l2' has no sign"),
    (lambda v: render.heatmap(v, clip=0), "clip must be a percentile"),
    (lambda v: render.heatmap(v, clip=101), "clip must be a percentile"),
    (lambda v: render.colorize(v[0, ..., 0], cmap="no_such_map"), "unknown matplotlib colormap"),
    (lambda v: render.overlay(np.zeros((2, 2, 3)), v[0, ..., 0], alpha=1.5), "alpha must be in"),
    (lambda v: render.overlay(np.zeros((3, 3, 3)), v[0, ..., 0]), "does not match the heatmap"),
    (lambda v: render.overlay(np.zeros((2, 2, 2)), v[0, ..., 0]), "1 or 3 channels"),
])
def test_bad_rendering_arguments_raise_a_clear_error(values, call, message):
    with pytest.raises(ValueError, match=message):
        call(values)


def test_colorize_uses_the_matplotlib_colormap():
    from matplotlib import colormaps

    maps = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    np.testing.assert_allclose(render.colorize(maps, "viridis"), colormaps["viridis"](maps)[..., :3], rtol=1e-6)
    signed = render.colorize(np.array([[-1.0, 1.0]]), signed=True)  # default "bwr": blue to red
    np.testing.assert_allclose(signed[0, 0], colormaps["bwr"](0.0)[:3], rtol=1e-6)
    np.testing.assert_allclose(signed[0, 1], colormaps["bwr"](1.0)[:3], rtol=1e-6)


def test_overlay_blends_the_colored_map_over_the_image_with_alpha(values):
    image = np.full((2, 2, 3), 0.2, np.float32)
    a = attribution(values[0])
    maps = a.heatmap(clip=100)
    blended = a.overlay(image, cmap="gray", alpha=0.25, clip=100)
    np.testing.assert_allclose(blended, 0.75 * 0.2 + 0.25 * np.repeat(maps[..., None], 3, axis=-1), atol=1e-3)


def test_images_in_0_255_and_grey_images_are_shown_as_rgb_in_the_unit_range():
    grey = np.array([[[0.0], [255.0]], [[51.0], [102.0]]], np.float32)
    shown = render.as_display_image(grey)
    assert shown.shape == (2, 2, 3)
    np.testing.assert_allclose(shown[..., 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)


def test_plot_draws_the_heatmap_over_the_image_and_returns_the_axes(values):
    import matplotlib.pyplot as plt

    a = attribution(values)
    ax = a.plot(image=np.full((2, 2, 2, 3), 0.5), index=1, clip=100)
    drawn = ax.get_images()
    assert len(drawn) == 2  # image, then heatmap
    np.testing.assert_allclose(drawn[1].get_array(), np.ones((2, 2)))
    assert ax.get_title() == "saliency"
    plt.close(ax.figure)


def test_to_png_writes_one_pixel_per_input_pixel(values, tmp_path):
    from PIL import Image

    a = attribution(values[0])
    path = a.to_png(tmp_path / "map.png", cmap="gray", clip=100)
    with Image.open(path) as picture:
        pixels = np.asarray(picture)
    assert pixels.shape == (2, 2, 3)
    np.testing.assert_array_equal(pixels[..., 0], np.round(a.heatmap(clip=100) * 255).astype(np.uint8))
    over = a.to_png(tmp_path / "over.png", image=np.zeros((2, 2, 3)), cmap="gray", alpha=0.5, clip=100)
    with Image.open(over) as picture:
        assert np.asarray(picture)[0, 0, 0] == 128  # 0.5 · black + 0.5 · white
