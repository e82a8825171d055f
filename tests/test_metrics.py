"""Localisation and perturbation metrics, checked on maps with known answers."""

import numpy as np
import pytest

from xai_widgets import metrics


def test_mass_in_mask_is_the_fraction_of_absolute_mass_on_the_object():
    maps = np.zeros((2, 4, 4), dtype=np.float32)
    maps[0, :2, :2] = 1.0   # all mass on the object
    maps[1, :2, :2] = -1.0  # a quarter of the mass on it
    maps[1, 2:, :] = 1.5
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[:, :2, :2] = True
    np.testing.assert_allclose(metrics.mass_in_mask(maps, masks), [1.0, 4 / (4 + 12)], rtol=1e-6)


def test_an_all_zero_map_scores_zero_mass():
    assert metrics.mass_in_mask(np.zeros((4, 4)), np.ones((4, 4), bool))[0] == 0.0


def test_values_with_channels_are_aggregated_by_max_abs():
    values = np.zeros((1, 3, 3, 3), dtype=np.float32)
    values[0, 1, 1, 2] = -5.0
    values[0, 0, 0, 0] = 1.0
    masks = np.zeros((1, 3, 3), bool)
    masks[0, 1, 1] = True
    assert metrics.mass_in_mask(values, masks)[0] == pytest.approx(5 / 6)
    assert metrics.pointing_game(values, masks).tolist() == [True]


def test_mismatched_masks_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        metrics.mass_in_mask(np.zeros((2, 4, 4)), np.zeros((2, 5, 4), bool))


def _linear_score(weights):
    return lambda images: np.stack([(images * weights).sum(axis=(1, 2, 3)), np.zeros(len(images))], axis=1)


def test_deletion_of_the_true_relevance_falls_fastest_and_insertion_rises_fastest():
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 1, size=(1, 6, 6, 1)).astype(np.float32)
    image = np.ones((1, 6, 6, 1), dtype=np.float32)
    score = _linear_score(weights)
    true_map = weights[..., 0]
    random_map = rng.uniform(size=(1, 6, 6))
    auc = {}
    for name, maps in [("true", true_map), ("random", random_map)]:
        fractions, deleted = metrics.deletion_curve(score, image, maps, 0, steps=12)
        _, inserted = metrics.insertion_curve(score, image, maps, 0, steps=12)
        assert deleted[0, 0] == pytest.approx(weights.sum(), rel=1e-5) and deleted[0, -1] == 0.0
        assert inserted[0, 0] == 0.0 and inserted[0, -1] == pytest.approx(weights.sum(), rel=1e-5)
        auc[name] = (metrics.area_under_curve(fractions, deleted)[0], metrics.area_under_curve(fractions, inserted)[0])
    assert auc["true"][0] < auc["random"][0]
    assert auc["true"][1] > auc["random"][1]


def test_area_under_a_constant_curve_is_that_constant():
    assert metrics.area_under_curve(np.linspace(0, 1, 5), np.full((1, 5), 3.0))[0] == pytest.approx(3.0)
