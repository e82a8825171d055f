"""The Summit view's Python side: traits in, graphs and sprite sheets out (no browser)."""

import io

import numpy as np
import pytest
from PIL import Image

import xai_widgets as xw

from .helpers import random_data, small_cnn

NAMES = ["<b>circle</b>", "square & co", "ring"]


@pytest.fixture(scope="module")
def summary():
    images, labels = random_data(30)
    labels[labels == 2] = 0  # class 2 gets no images
    return xw.summarize(small_cnn(), (images, labels), batch_size=16, examples=3, progress=False)


def test_the_view_lists_the_classes_as_given_and_selects_the_largest(summary):
    view = xw.summit_view(summary, class_names=NAMES)
    assert [item["name"] for item in view.classes] == NAMES  # data, shown as text by the page
    assert [item["images"] for item in view.classes] == summary.class_counts.tolist()
    assert view.selected == int(np.argmax(summary.class_counts))
    assert view.embedding[2] is None and all(len(point) == 2 for point in view.embedding[:2])
    assert view.progress == 1.0 and view.error == ""


def test_the_graph_and_its_sprite_sheet_describe_the_selected_class(summary):
    view = xw.summit_view(summary, class_names=NAMES)
    expected = summary.graph(view.selected, min_nodes=5, max_nodes=10).to_dict()
    assert {key: view.graph[key] for key in expected if key != "nodes"} == \
        {key: value for key, value in expected.items() if key != "nodes"}
    assert [(node["layer"], node["channel"]) for node in view.graph["nodes"]] == \
        [(node["layer"], node["channel"]) for node in expected["nodes"]]
    sheet = np.asarray(Image.open(io.BytesIO(view.sprites)))
    assert sheet.shape == (32 * len(expected["nodes"]), 32 * 3, 3)
    first = view.graph["nodes"][0]
    layer, channel = first["layer"], first["channel"]
    np.testing.assert_array_equal(sheet[:32, :32], summary.examples[layer].thumbnails[channel, 0])
    assert [example["index"] for example in first["examples"]] == \
        [index for index in summary.examples[layer].index[channel] if index >= 0]


def test_choosing_another_class_recomputes_the_graph(summary):
    view = xw.summit_view(summary)
    other = 1 - view.selected
    view.selected = other
    assert view.graph["class_index"] == other
    assert view.graph["images"] == summary.class_counts[other]


def test_a_class_without_images_shows_an_error_and_keeps_the_last_graph(summary):
    view = xw.summit_view(summary)
    shown = view.graph
    view.selected = 2
    assert "no images" in view.error and view.graph == shown
    view.selected = 1
    assert view.error == ""


def test_progress_first_then_the_summary(summary):
    view = xw.summit_view(class_names=NAMES)
    assert view.classes == [] and view.graph == {}
    view.report_progress(8, 32)
    assert view.progress == 0.25 and view.status == "8 of 32 images"
    view.report_progress(5)
    assert view.status == "5 images"
    view.summary = summary
    assert view.progress == 1.0 and view.graph["nodes"]


def test_too_few_class_names_are_refused(summary):
    with pytest.raises(ValueError, match="one name per class"):
        xw.summit_view(summary, class_names=["only one"])
