"""The comparison grid and the gallery."""

import numpy as np
import pytest

import xai_widgets as xw

from .fakes import image_batch


def test_compare_shows_one_independently_streaming_cell_per_method(model, image):
    grid = xw.compare(model, image, methods=["saliency", "gradient_x_input"])
    assert grid.wait(timeout=60)
    assert [cell.method for cell in grid.cells] == ["saliency", "gradient_x_input"]
    assert [cell.title for cell in grid.cells] == ["Saliency", "Gradient × input"]
    assert all(cell.compact for cell in grid.cells)
    assert len({id(cell._worker) for cell in grid.cells}) == 2  # one worker per cell
    target = grid.cells[0].target
    np.testing.assert_allclose(grid.attributions[0].values, xw.saliency(model, image, target).values, rtol=1e-5)
    np.testing.assert_allclose(grid.attributions[1].values, xw.gradient_x_input(model, image, target).values,
                               rtol=1e-5)
    assert grid.layout.grid_template_columns == "repeat(2, max-content)"


def test_a_gallery_shows_a_small_batch_with_one_method_and_names_each_images_class(model):
    images = image_batch((5, 8, 8, 3), seed=3)
    names = [f"class-{index}" for index in range(7)]
    gallery = xw.compare(model, images, methods=["saliency"], target=[0, 1, 2, 3, 4], class_names=names)
    assert gallery.wait(timeout=60)
    assert [cell.title for cell in gallery.cells] == [f"image {i} · class-{i}" for i in range(5)]
    for index, attribution in enumerate(gallery.attributions):
        expected = xw.saliency(model, images[index], target=index).values
        np.testing.assert_allclose(attribution.values, expected, rtol=1e-5)
    assert gallery.layout.grid_template_columns == "repeat(4, max-content)"


def test_compare_refuses_a_large_batch_and_a_target_list_of_the_wrong_length(model):
    with pytest.raises(ValueError, match="at most 16"):
        xw.compare(model, image_batch((17, 8, 8, 3)), methods=["saliency"])
    with pytest.raises(ValueError, match="one class per image"):
        xw.compare(model, image_batch((3, 8, 8, 3)), methods=["saliency"], target=[0, 1])


def test_compare_save_html_puts_every_cell_on_one_page(model, image, tmp_path, built_frontend):
    grid = xw.compare(model, image, methods=["saliency", "gradient_x_input"])
    assert grid.wait(timeout=60)
    text = grid.save_html(tmp_path / "grid.html").read_text(encoding="utf-8")
    assert text.count('"title": "Saliency"') == 1 and text.count('"title": "Gradient \\u00d7 input"') == 1
    assert "repeat(2, max-content)" in text
