"""A summary does not depend on how the data is batched, ordered or delivered."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import tf

from .helpers import random_data, residual_cnn, small_cnn


def assert_same_summary(first, second, same_order=True):
    for counts, other in zip(first.activations, second.activations):
        np.testing.assert_array_equal(counts, other)
    for influence, other in zip(first.influences, second.influences):
        np.testing.assert_array_equal(influence.keys, other.keys)
        np.testing.assert_array_equal(influence.counts, other.counts)
    for examples, other in zip(first.examples, second.examples):
        np.testing.assert_array_equal(examples.values, other.values)
        np.testing.assert_array_equal(examples.thumbnails, other.thumbnails)
        np.testing.assert_array_equal(examples.boxes, other.boxes)
        if same_order:
            np.testing.assert_array_equal(examples.index, other.index)
    np.testing.assert_array_equal(first.class_counts, second.class_counts)


@pytest.fixture(scope="module", params=[small_cnn, residual_cnn], ids=["single_convolutions", "residual"])
def model(request):
    return request.param()


@pytest.fixture(scope="module")
def data():
    return random_data(45)


def test_summaries_are_invariant_to_the_batch_size(model, data):
    reference = xw.summarize(model, data, batch_size=16, progress=False)
    for batch_size in (1, 7):
        assert_same_summary(reference, xw.summarize(model, data, batch_size=batch_size, progress=False))


def test_summaries_are_invariant_to_the_order_of_batches(model, data):
    images, labels = data
    batch = 9
    order = np.concatenate([np.arange(start, start + batch) for start in (36, 9, 27, 0, 18)])
    reference = xw.summarize(model, data, batch_size=batch, progress=False)
    shuffled = xw.summarize(model, (images[order], labels[order]), batch_size=batch, progress=False)
    assert_same_summary(reference, shuffled, same_order=False)
    # the examples point at the same images, by their position in each ordering
    for examples, other in zip(reference.examples, shuffled.examples):
        filled = examples.index >= 0
        np.testing.assert_array_equal(examples.index[filled], order[other.index[filled]])


def test_a_dataset_batched_or_not_gives_the_summary_of_the_arrays(model, data):
    reference = xw.summarize(model, data, batch_size=8, progress=False)
    unbatched = tf.data.Dataset.from_tensor_slices(data)
    assert_same_summary(reference, xw.summarize(model, unbatched, batch_size=8, progress=False))
    assert_same_summary(reference, xw.summarize(model, unbatched.batch(5), batch_size=8, progress=False))


def dense_bytes(summary):
    arrays = [summary.class_counts, *summary.activations]
    arrays += [array for examples in summary.examples for array in examples._arrays()]
    return sum(array.nbytes for array in arrays)


def test_the_summary_size_depends_on_classes_and_channels_not_on_the_number_of_images(model):
    small = xw.summarize(model, random_data(10, seed=1), batch_size=8, progress=False)
    large = xw.summarize(model, random_data(80, seed=2), batch_size=8, progress=False)
    assert large.images == 8 * small.images
    assert dense_bytes(large) == dense_bytes(small)
    for influence in large.influences:  # sparse counts: at most one entry per (class, next, previous)
        assert len(influence.keys) == len(np.unique(influence.keys)) <= int(np.prod(influence.shape))

