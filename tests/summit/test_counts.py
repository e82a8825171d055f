"""Summit's counts on a hand-built network equal the values worked out by hand (see helpers.py)."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import tf
from xai_widgets.summit import kept_channels, top_influences

from .helpers import IMAGES, LABELS, hand_network

# Worked out by hand, mass 0.6 (exact small-integer arithmetic throughout):
# image one (class 0): A maxima (2, 1, 2) -> shares .4 .2 .4 -> A0, A2 reach .6 first;
#   B maxima (4 at (0,0), 1) -> shares .8 .2 -> B0 alone.
#   Into B0 at (0,0): gradient I = A(0,0) ⊙ W_B[:, 0] = (2, 0, 2); summit I = max(A_i · W_B[i, 0]) = (2, 0, 2).
# image two (class 1): A maxima (1, 3, 3) -> A1, A2 (ties keep the lower channel first);
#   B maxima (3, 3), both at (0,0) -> shares .5 .5 -> B0, B1.
#   Into B0: gradient (0, 0, 3), summit (1, 0, 3)   (A0 peaks at (0,1), where B0 does not)
#   Into B1: gradient (0, 6, -3), summit (0, 6, 0)  (max of −A2 over the image is 0)
HAND_ACTIVATIONS_A = [[1, 0, 1], [0, 1, 1]]
HAND_ACTIVATIONS_B = [[1, 0], [1, 1]]
# top_k = 2, only positive influences count: (class, next channel, previous channel)
HAND_EDGES = {
    "gradient": {(0, 0, 0), (0, 0, 2), (1, 0, 2), (1, 1, 1)},
    "summit": {(0, 0, 0), (0, 0, 2), (1, 0, 2), (1, 0, 0), (1, 1, 1)},
}


def edges_of(summary):
    influence = summary.influences[0]
    classes, following, previous = np.unravel_index(influence.keys, influence.shape)
    return dict(zip(zip(classes.tolist(), following.tolist(), previous.tolist()), influence.counts.tolist()))


@pytest.mark.parametrize("influence", ["gradient", "summit"])
def test_counts_on_the_hand_network_equal_the_hand_computed_values(influence):
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], mass=0.6, top_k=2,
                           influence=influence, progress=False)
    np.testing.assert_array_equal(summary.activations[0], HAND_ACTIVATIONS_A)
    np.testing.assert_array_equal(summary.activations[1], HAND_ACTIVATIONS_B)
    np.testing.assert_array_equal(summary.class_counts, [1, 1])
    assert edges_of(summary) == {edge: 1 for edge in HAND_EDGES[influence]}


def test_counts_add_up_over_copies_of_the_images():
    images, labels = np.concatenate([IMAGES] * 3), np.concatenate([LABELS] * 3)
    summary = xw.summarize(hand_network(), (images, labels), ["a", "b"], mass=0.6, top_k=2, batch_size=4,
                           progress=False)
    np.testing.assert_array_equal(summary.activations[0], 3 * np.array(HAND_ACTIVATIONS_A))
    assert edges_of(summary) == {edge: 3 for edge in HAND_EDGES["gradient"]}


def test_top_channels_caps_the_counted_channels_and_their_influences():
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], mass=0.6, top_channels=1, top_k=2,
                           progress=False)
    np.testing.assert_array_equal(summary.activations[0], [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(summary.activations[1], [[1, 0], [1, 0]])
    assert set(edges_of(summary)) == {(0, 0, 0), (0, 0, 2), (1, 0, 2)}


def test_top_k_one_keeps_the_largest_influence_and_the_lower_channel_on_ties():
    summary = xw.summarize(hand_network(), (IMAGES, LABELS), ["a", "b"], mass=0.6, top_k=1, progress=False)
    assert set(edges_of(summary)) == {(0, 0, 0), (1, 0, 2), (1, 1, 1)}


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


def test_top_influences_skip_channels_that_are_not_kept_and_influences_that_are_not_positive():
    influences = np.array([[[3.0, -1.0, 5.0], [2.0, 2.0, 0.0]]])
    image, following, previous = top_influences(influences, np.array([[4, -1]]), top_k=2)
    assert list(zip(image, following, previous)) == [(0, 4, 2), (0, 4, 0)]
    image, following, previous = top_influences(influences, np.array([[4, 7]]), top_k=3)
    assert list(zip(image, following, previous)) == [(0, 4, 2), (0, 4, 0), (0, 7, 0), (0, 7, 1)]
