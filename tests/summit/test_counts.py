"""Summit's counts on a hand-built network equal the values worked out by hand (see helpers.py)."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import tf
from xai_widgets.summit import (DisplayImages, Examples, ReceptiveField, SparseCounts, display_pixels, kept_channels,
                                 thumbnails)
from xai_widgets.summit import counts as counts_module
from xai_widgets.summit.influence import first_peaks, top_previous_channels

from .helpers import IMAGES, LABELS, hand_network

# Worked out by hand, mass 0.6 (exact small-integer arithmetic throughout):
# image one (class 0): A maxima (2, 1, 2) -> shares .4 .2 .4 -> A0, A2 reach .6 first;
#   B maxima (4 at (0,0), 1 at (0,1)) -> shares .8 .2 -> B0 alone is kept.
#   Into B0 at (0,0): gradient I = A(0,0) ⊙ W_B[:, 0] = (2, 0, 2); summit I = max(A_i · W_B[i, 0]) = (2, 0, 2).
#   Into B1 at (0,1), where 2·A1 − A2 = 1 > 0: gradient I = A(0,1) ⊙ W_B[:, 1] = (0, 2, −1);
#     summit (0, 2, 0)  (max of −A2 over the image is 0 at (1,1)).
# image two (class 1): A maxima (1, 3, 3) -> A1, A2 (ties keep the lower channel first);
#   B maxima (3, 3), both at (0,0) -> shares .5 .5 -> B0, B1.
#   Into B0: gradient (0, 0, 3), summit (1, 0, 3)   (A0 peaks at (0,1), where B0 does not)
#   Into B1: gradient (0, 6, -3), summit (0, 6, 0)  (max of −A2 over the image is 0)
HAND_ACTIVATIONS_A = [[1, 0, 1], [0, 1, 1]]
HAND_ACTIVATIONS_B = [[1, 0], [1, 1]]
# top_k = 2, only positive influences count: (class, next channel, previous channel).
# into="all" counts into both channels of B; into="kept" skips image one's B1 (not kept).
HAND_EDGES = {
    ("gradient", "all"): {(0, 0, 0), (0, 0, 2), (0, 1, 1), (1, 0, 2), (1, 1, 1)},
    ("summit", "all"): {(0, 0, 0), (0, 0, 2), (0, 1, 1), (1, 0, 2), (1, 0, 0), (1, 1, 1)},
    ("gradient", "kept"): {(0, 0, 0), (0, 0, 2), (1, 0, 2), (1, 1, 1)},
    ("summit", "kept"): {(0, 0, 0), (0, 0, 2), (1, 0, 2), (1, 0, 0), (1, 1, 1)},
}


def edges_of(summary):
    influence = summary.influences[0]
    classes, following, previous = np.unravel_index(influence.keys, influence.shape)
    return dict(zip(zip(classes.tolist(), following.tolist(), previous.tolist()), influence.counts.tolist()))


@pytest.mark.parametrize("influence, into", sorted(HAND_EDGES))
def test_counts_on_the_hand_network_equal_the_hand_computed_values(influence, into):
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], mass=0.6, top_k=2,
                           influence=influence, into=into, progress=False)
    np.testing.assert_array_equal(summary.activations[0], HAND_ACTIVATIONS_A)
    np.testing.assert_array_equal(summary.activations[1], HAND_ACTIVATIONS_B)
    np.testing.assert_array_equal(summary.class_counts, [1, 1])
    assert edges_of(summary) == {edge: 1 for edge in HAND_EDGES[influence, into]}
    assert summary.options["into"] == into


def test_counts_add_up_over_copies_of_the_images():
    images, labels = np.concatenate([IMAGES] * 3), np.concatenate([LABELS] * 3)
    summary = xw.summarize(hand_network(), (images, labels), ["a", "b"], mass=0.6, top_k=2, batch_size=4,
                           progress=False)
    np.testing.assert_array_equal(summary.activations[0], 3 * np.array(HAND_ACTIVATIONS_A))
    assert edges_of(summary) == {edge: 3 for edge in HAND_EDGES["gradient", "all"]}


def test_top_channels_caps_the_counted_channels_and_the_influences_into_kept_channels():
    options = dict(mass=0.6, top_channels=1, top_k=2, progress=False)
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], into="kept", **options)
    np.testing.assert_array_equal(summary.activations[0], [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(summary.activations[1], [[1, 0], [1, 0]])
    assert set(edges_of(summary)) == {(0, 0, 0), (0, 0, 2), (1, 0, 2)}
    # into every channel, the cap on kept channels leaves the influence counts alone
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], into="all", **options)
    assert set(edges_of(summary)) == HAND_EDGES["gradient", "all"]


def test_top_k_one_keeps_the_largest_influence_and_the_lower_channel_on_ties():
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], mass=0.6, top_k=1, progress=False)
    # image one, B0: A0 and A2 tie at 2 -> A0
    assert set(edges_of(summary)) == {(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 1)}


def test_the_examples_are_the_images_with_the_largest_channel_maxima():
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], examples=2, progress=False)
    examples = summary.examples[1]  # layer b: B0 maxima 4 (image one), 3 (image two); B1: 1, 3
    np.testing.assert_array_equal(examples.values, [[4, 3], [3, 1]])
    np.testing.assert_array_equal(examples.index, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(examples.labels, [[0, 1], [1, 0]])
    # a 1×1 convolution sees one pixel: B0 of image one peaks at (0, 0)
    np.testing.assert_array_equal(examples.boxes[0, 0], [0, 0, 1, 1])
    assert examples.thumbnails.shape == (2, 2, 32, 32, 3)


def test_kept_channels_reach_the_mass_with_the_fewest_channels():
    maxima = tf.constant([[1.0, 4.0, 3.0, 2.0], [0.0, -1.0, 0.0, 0.0], [5.0, 5.0, 0.0, 0.0]], tf.float64)
    kept = kept_channels(maxima, mass=0.7, top_channels=4).numpy()
    # row 0: shares .1 .4 .3 .2 -> 1 (.4), 2 (.7 reached) ; row 1 has nothing positive; row 2 ties -> 0, 1
    np.testing.assert_array_equal(kept, [[1, 2, -1, -1], [-1, -1, -1, -1], [0, 1, -1, -1]])
    np.testing.assert_array_equal(kept_channels(maxima, 1.0, 2).numpy(), [[1, 2], [-1, -1], [0, 1]])


def test_top_previous_channels_are_the_largest_positive_influences_lower_channel_first():
    influences = tf.constant([[[3.0, -1.0, 5.0], [2.0, 2.0, 0.0]]])
    np.testing.assert_array_equal(top_previous_channels(influences, 2).numpy(), [[[2, 0], [0, 1]]])
    np.testing.assert_array_equal(top_previous_channels(influences, 3).numpy(), [[[2, 0, -1], [0, 1, -1]]])
    np.testing.assert_array_equal(top_previous_channels(influences, 9).numpy(), [[[2, 0, -1], [0, 1, -1]]])


def test_thumbnails_resample_each_box_and_show_grey_outside_the_image():
    displays = np.arange(2 * 6 * 6 * 3, dtype=np.uint8).reshape(2, 6, 6, 3)
    boxes = np.array([[1, 2, 3, 4], [-2, 0, 2, 4], [0, 0, 6, 6]])   # (top, left, bottom, right)
    crops = thumbnails(displays, np.array([1, 0, 0]), boxes, size=4)
    np.testing.assert_array_equal(crops[0], np.repeat(np.repeat(displays[1, 1:3, 2:4], 2, 0), 2, 1))
    assert (crops[1, :2] == 128).all()                                 # rows -2 and -1 lie above the image
    np.testing.assert_array_equal(crops[1, 2:], displays[0, 0:2, 0:4])
    # cell centres 0.75, 2.25, 3.75, 5.25 of a 6-pixel box on 4 pixels: nearest rows and columns 0, 2, 3, 5
    np.testing.assert_array_equal(crops[2], displays[0][[0, 2, 3, 5]][:, [0, 2, 3, 5]])


def brute_force_examples(maxima, count):
    """Per channel, the ``count`` images of largest positive maximum, earlier image first on ties."""
    chosen = []
    for channel in range(maxima.shape[1]):
        ranked = sorted((-value, image) for image, value in enumerate(maxima[:, channel]) if value > 0)
        chosen.append([image for _, image in ranked[:count]])
    return chosen


@pytest.mark.parametrize("pending_bytes", [0, 2**26], ids=["drawn_every_batch", "drawn_at_the_end"])
def test_examples_merged_batch_by_batch_are_the_brute_force_top_k_with_ties(monkeypatch, pending_bytes):
    monkeypatch.setattr(counts_module, "PENDING_BYTES", pending_bytes)
    rng = np.random.default_rng(3)
    images = rng.random((60, 8, 8, 3), dtype=np.float32) * 3 - 1   # outside [0, 1]: each image is rescaled
    labels = rng.integers(0, 4, len(images))
    maxima = rng.integers(-2, 6, (len(images), 7)).astype(np.float32)   # many ties, some never positive
    maxima[:, 6] = 0
    maxima[[40, 20], 6] = 1                                              # channel 6 fills two slots of four
    positions = rng.integers(0, 4, (len(images), 7, 2))
    field = ReceptiveField(jump=(2, 2), offset=(-1, -1), size=(5, 5))  # boxes reach outside the image
    examples, start = Examples.empty(7, 4), 0
    for size in (1, 9, 17, 3, 30):                                       # uneven batches
        batch = slice(start, start + size)
        examples.merge(maxima[batch], positions[batch], DisplayImages(images[batch]), labels[batch], start, field)
        start += size
    assert len(examples._pending) == (0 if pending_bytes == 0 else 5)
    examples.draw()
    for channel, best in enumerate(brute_force_examples(maxima, 4)):
        filled = len(best)
        np.testing.assert_array_equal(examples.index[channel, :filled], best)
        np.testing.assert_array_equal(examples.values[channel, :filled], maxima[best, channel])
        np.testing.assert_array_equal(examples.labels[channel, :filled], labels[best])
        assert (examples.index[channel, filled:] == -1).all() and np.isneginf(examples.values[channel, filled:]).all()
        for slot, image in enumerate(best):
            row, column = positions[image, channel]
            box = np.array(field.box(row, column))
            np.testing.assert_array_equal(examples.boxes[channel, slot], box)
            expected = thumbnails(display_pixels(images[image])[np.newaxis], np.array([0]), box[np.newaxis])[0]
            np.testing.assert_array_equal(examples.thumbnails[channel, slot], expected)
    np.testing.assert_array_equal(examples.index[6], [20, 40, -1, -1])


def test_display_images_convert_each_image_once(monkeypatch):
    images = np.random.default_rng(0).random((5, 6, 6, 1), dtype=np.float32)
    converted = []
    monkeypatch.setattr(counts_module, "display_pixels", lambda image: converted.append(image) or display_pixels(image))
    displays = DisplayImages(images)
    first = displays.pixels(np.array([3, 1]))
    again = displays.pixels(np.array([1, 3, 4]))
    np.testing.assert_array_equal(first, [display_pixels(images[3]), display_pixels(images[1])])
    np.testing.assert_array_equal(again, [display_pixels(images[index]) for index in (1, 3, 4)])
    assert len(converted) == 3


def test_sparse_counts_collected_over_many_batches_equal_the_dense_counts(monkeypatch):
    monkeypatch.setattr(counts_module, "MERGE_AFTER", 7)   # merge every few batches
    rng = np.random.default_rng(1)
    shape = (3, 4, 5)
    sparse, dense = SparseCounts(shape), np.zeros(shape, np.int64)
    for batch in range(12):
        triples = [rng.integers(0, size, rng.integers(0, 9)) for size in shape]
        triples = [part[:min(len(item) for item in triples)] for part in triples]
        sparse.add(*triples)
        np.add.at(dense, tuple(triples), 1)
        if batch % 5 == 4:   # reading in between merges what was collected
            np.testing.assert_array_equal(sparse.dense(), dense)
    np.testing.assert_array_equal(sparse.dense(), dense)
    assert np.all(np.diff(sparse.keys) > 0) and (sparse.counts > 0).all()
    np.testing.assert_array_equal(sparse.dense(1), dense[1])


def test_first_peaks_are_the_first_maximum_in_row_major_order():
    values = np.zeros((1, 3, 4, 2), np.float32)
    values[0, 1, 3, 0] = values[0, 2, 0, 0] = 5.0     # tie: (1, 3) comes first
    values[0, 2, 2, 1] = 1.0
    np.testing.assert_array_equal(first_peaks(tf.constant(values)).numpy(), [[1 * 4 + 3, 2 * 4 + 2]])
