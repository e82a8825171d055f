"""Summit's counts on a hand-built network equal the values worked out by hand (see helpers.py)."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import tf
from xai_widgets.summit import kept_channels, thumbnails
from xai_widgets.summit.influence import top_previous_channels

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
