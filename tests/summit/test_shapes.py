"""On the bundled shapes data, channels that fire on a class's shape count most for that class.

"Fires on the shape" is measured independently of Summit, on held-out images
with their ground-truth masks: a channel's response to an image is its
largest activation among the positions whose receptive-field centre lies on
the object; its selectivity for a class is the mean response on that class
minus the mean response on the other classes. The summary, computed on other
images, ranks every channel per class by how often it was counted.
"""

import functools

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras
from xai_widgets.summit import default_layers, receptive_fields

CLASSES = len(xw.zoo.SHAPES_CLASSES)


def object_responses(model, layer, images, masks):
    (field,) = receptive_fields(model, [layer])
    activations = keras.Model(model.inputs, layer.output).predict(images, verbose=0)
    height, width = activations.shape[1:3]
    size = images.shape[1]
    rows = np.clip(field.offset[0] + np.arange(height) * field.jump[0] + field.size[0] // 2, 0, size - 1)
    columns = np.clip(field.offset[1] + np.arange(width) * field.jump[1] + field.size[1] // 2, 0, size - 1)
    on_object = masks[:, rows][:, :, columns]
    responses = np.where(on_object[..., np.newaxis], activations, -np.inf).max(axis=(1, 2))
    return np.where(np.isfinite(responses), responses, 0.0)


@functools.lru_cache(maxsize=None)
def ranks_and_selective(name):
    """Per class: every channel's rank by Summit count, and the channels by shape selectivity."""
    model = xw.zoo.load(name)
    summary = xw.summarize(model, xw.zoo.shapes(600, seed=11)[:2], progress=False)
    images, labels, masks = xw.zoo.shapes(300, seed=12)
    layer = default_layers(model)[-1]
    assert summary.layers[-1] == layer.name
    responses = object_responses(model, layer, images, masks)
    selectivity = np.stack([responses[labels == c].mean(0) - responses[labels != c].mean(0) for c in range(CLASSES)])
    rates = summary.activations[-1] / summary.class_counts[:, np.newaxis]
    ranks = np.argsort(np.argsort(-rates, axis=1, kind="stable"), axis=1)  # 0 = counted most often
    return ranks, np.argsort(-selectivity, axis=1)


def own_and_other_ranks(ranks, selective, class_index, count):
    channels = selective[class_index, :count]
    others = np.delete(ranks[:, channels], class_index, axis=0).mean(axis=0)
    return ranks[class_index, channels], others


@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet"])
def test_the_most_shape_selective_channel_of_every_class_ranks_higher_for_it(name):
    ranks, selective = ranks_and_selective(name)
    for class_index in range(CLASSES):
        own, others = own_and_other_ranks(ranks, selective, class_index, 1)
        assert own[0] < others[0], (class_index, own, others)


def test_on_the_residual_network_the_three_most_selective_channels_of_every_class_do():
    # (not asked of shapes_cnn: its last layer feeds a Dense layer directly, and some channels there
    # fire for every class)
    ranks, selective = ranks_and_selective("shapes_resnet")
    for class_index in range(CLASSES):
        own, others = own_and_other_ranks(ranks, selective, class_index, 3)
        assert np.all(own < others), (class_index, own, others)
        assert own.max() < 8  # among the channels counted most for the class
