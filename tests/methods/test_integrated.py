"""Integrated Gradients: exactness, completeness, references, streaming, options."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets.methods.integrated import RULES, IntegratedGradients, StraightPaths, quadrature
from xai_widgets.model import TargetModel, as_target_model

from .helpers import assert_close, linear_model, reference_gradient

ALL_STEPS = [(rule, 7) for rule in RULES] + [("riemann_trapezoid", "auto")]


@pytest.fixture(scope="module")
def zoo():
    model = xw.zoo.load("shapes_cnn")
    images, labels, _ = xw.zoo.shapes(6, seed=3)
    return model, images, labels


def reference_ig(model, image, target, baseline, alphas, weights):
    """IG of one image with one eager GradientTape per α node (the independent reference)."""
    integral = np.zeros_like(image)
    for alpha, weight in zip(alphas, weights):
        gradient, _ = reference_gradient(model, baseline + np.float32(alpha) * (image - baseline), target)
        integral += np.float32(weight) * gradient
    return (image - baseline) * integral


# ---------------------------------------------------------------- quadrature
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_weights_summing_to_one_and_nodes_in_the_unit_interval(rule):
    alphas, weights = quadrature(rule, 9)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(alphas) > 0) and alphas[0] >= 0.0 and alphas[-1] <= 1.0


def test_rule_nodes_follow_their_definitions():
    np.testing.assert_allclose(quadrature("riemann_left", 4)[0], [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(quadrature("riemann_right", 4)[0], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(quadrature("riemann_middle", 4)[0], [0.125, 0.375, 0.625, 0.875])
    alphas, weights = quadrature("riemann_trapezoid", 5)
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])


def test_gauss_legendre_integrates_polynomials_up_to_degree_2n_minus_1_exactly():
    alphas, weights = quadrature("gauss_legendre", 4)
    for degree in range(8):
        assert np.sum(weights * alphas**degree) == pytest.approx(1.0 / (degree + 1), rel=1e-12)


# ---------------------------------------------------------------- exactness
@pytest.mark.parametrize("rule, steps", ALL_STEPS)
def test_ig_is_exact_on_linear_model_for_every_rule(rule, steps):
    model, weights = linear_model()
    x = np.random.default_rng(0).uniform(size=(3, 6, 5, 3)).astype("float32")
    a = xw.integrated_gradients(model, x, target=[0, 1, 3], baseline=0.25, steps=steps, rule=rule)
    expected = (x - 0.25) * np.moveaxis(weights[..., [0, 1, 3]], -1, 0)
    assert_close(a.values, expected, rel=1e-5)
    np.testing.assert_allclose(a.delta, 0.0, atol=1e-4)


def test_saliency_is_the_weight_on_a_linear_model():
    model, weights = linear_model()
    x = np.random.default_rng(0).uniform(size=(6, 5, 3)).astype("float32")
    np.testing.assert_allclose(xw.saliency(model, x, target=2).values, weights[..., 2], rtol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_ig_agrees_with_an_eager_tape_per_image_for_every_rule(cnn, images, rule):
    baseline = np.random.default_rng(5).uniform(size=images.shape[1:]).astype("float32")
    a = IntegratedGradients(cnn, baseline=baseline, steps=6, rule=rule, batch_size=4)(images, [0, 3, 4])
    alphas, weights = quadrature(rule, 6)
    for index, target in enumerate([0, 3, 4]):
        expected = reference_ig(cnn, images[index], target, baseline, alphas, weights)
        assert_close(a.values[index], expected, rel=1e-5)


def test_a_stack_of_baselines_gives_the_mean_of_their_attributions(cnn, images):
    stack = np.random.default_rng(2).uniform(size=(3, *images.shape[1:])).astype("float32")
    averaged = xw.integrated_gradients(cnn, images[0], 1, baseline=stack, steps=5)
    separate = [xw.integrated_gradients(cnn, images[0], 1, baseline=baseline, steps=5) for baseline in stack]
    assert_close(averaged.values, np.mean([a.values for a in separate], axis=0), rel=1e-5)
    assert averaged.baseline_outputs == pytest.approx(np.mean([a.baseline_outputs for a in separate]), rel=1e-5)
    assert averaged.evaluations == 15


# ------------------------------------------------------------- completeness
def test_delta_is_the_completeness_gap_with_forward_outputs(cnn, images):
    a = xw.integrated_gradients(cnn, images, baseline="blur", steps=8, rule="riemann_middle")
    logits = cnn(images).numpy()
    from xai_widgets.baselines import gaussian_blur

    baseline_logits = cnn(gaussian_blur(images, 5.0)).numpy()
    rows = np.arange(len(images))
    np.testing.assert_allclose(a.outputs, logits[rows, a.target], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.baseline_outputs, baseline_logits[rows, a.target], rtol=1e-5, atol=1e-6)
    gap = a.values.reshape(len(images), -1).sum(axis=1) - (a.outputs - a.baseline_outputs)
    np.testing.assert_allclose(a.delta, gap, atol=1e-5)


def test_the_trapezoid_rule_takes_both_path_ends_from_its_nodes_without_a_forward_pass(cnn, images):
    wrapped = TargetModel(cnn)
    a = IntegratedGradients(wrapped, baseline=0.2, steps=4, rule="riemann_trapezoid")(images, [0, 1, 2])
    assert not any(kind == "forward" for kind, *_ in wrapped._compiled)  # F(x) = φ(1), F(x′) = φ(0)
    forward = cnn(images).numpy()[np.arange(len(images)), [0, 1, 2]]
    np.testing.assert_allclose(a.outputs, forward, rtol=1e-6, atol=1e-6)
    gap = a.values.reshape(len(images), -1).sum(axis=1) - (a.outputs - a.baseline_outputs)
    np.testing.assert_allclose(a.delta, gap, atol=1e-5)


def test_the_path_reaches_the_image_exactly_at_alpha_one(images):
    """x′ + 1·(x − x′) can miss x in the last bit; the row at α = 1 is x itself."""
    baselines = np.random.default_rng(4).uniform(size=(1, *images.shape)).astype("float32") * 0.3
    paths = StraightPaths(images, baselines, np.zeros(len(images), np.int32))
    rows = np.tile(np.arange(paths.count), 2)
    points = paths.points(rows, np.repeat([0.37, 1.0], paths.count))
    bases, directions, base_index, direction_index, scale = (np.asarray(part) for part in points.parts(0, len(rows)))
    built = bases[base_index] + scale[:, None, None, None] * directions[direction_index]
    np.testing.assert_array_equal(built[paths.count:], images)
    expected = baselines[0] + np.float32(0.37) * (images - baselines[0])
    np.testing.assert_array_equal(built[:paths.count], expected)


def test_path_partials_before_the_end_report_f_of_x_too(cnn, images):
    partials = list(IntegratedGradients(cnn, baseline=0.0, steps=5, batch_size=3).stream(images, [2, 3, 4]))
    forward = cnn(images).numpy()[np.arange(len(images)), [2, 3, 4]]
    assert len(partials) == 5
    for partial in partials:
        np.testing.assert_allclose(partial.outputs, forward, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_mean_abs_delta_on_zoo_images_falls_as_steps_grow(zoo, rule):
    model, images, labels = zoo
    explainer = lambda steps: IntegratedGradients(model, baseline="black", steps=steps, rule=rule)  # noqa: E731
    deltas = [np.abs(explainer(steps)(images, labels).delta).mean() for steps in (4, 16, 64)]
    assert deltas[0] > deltas[1] > deltas[2], deltas


def test_auto_stops_within_tolerance_on_zoo_images(zoo):
    model, images, labels = zoo
    a = IntegratedGradients(model, baseline="black", steps="auto", tolerance=0.01)(images, labels)
    rise = np.abs(a.outputs - a.baseline_outputs)
    assert np.all((np.abs(a.delta) <= 0.01 * rise + 1e-5) | (a.evaluations == 256))
    assert a.evaluations.shape == (len(images),) and np.all(a.evaluations >= 3)


def test_auto_counts_every_gradient_evaluation_and_reuses_them(zoo, monkeypatch):
    model, images, labels = zoo
    wrapped = as_target_model(model)
    rows = []
    original = wrapped.gradients

    def counting(inputs, targets, batch_size=None):
        rows.append(len(inputs))
        return original(inputs, targets, batch_size)

    monkeypatch.setattr(wrapped, "gradients", counting)
    a = IntegratedGradients(model, baseline="black", steps="auto", tolerance=0.005)(images[0], labels[0])
    assert sum(rows) == a.evaluations
    assert a.info["evaluations"] == [a.evaluations]


def test_tighter_tolerance_needs_more_evaluations(zoo):
    model, images, labels = zoo
    loose = IntegratedGradients(model, baseline="black", steps="auto", tolerance=0.05)(images[:3], labels[:3])
    tight = IntegratedGradients(model, baseline="black", steps="auto", tolerance=0.002)(images[:3], labels[:3])
    assert np.all(tight.evaluations >= loose.evaluations) and tight.evaluations.sum() > loose.evaluations.sum()
    assert np.abs(tight.delta).mean() < np.abs(loose.delta).mean()


@pytest.mark.slow
def test_auto_needs_fewer_evaluations_than_every_fixed_rule_to_reach_one_percent():
    """Median over the benchmark's 20 zoo images; a fixed rule is credited with the smallest step count that works."""
    model = xw.zoo.load("shapes_cnn")
    images, labels, _ = xw.zoo.shapes(20, seed=20)
    auto = xw.integrated_gradients(model, images, labels, baseline="black", steps="auto", tolerance=0.01)
    for rule in RULES:
        needed, pending = np.full(20, np.inf), np.arange(20)
        for steps in range(2 if rule == "riemann_trapezoid" else 1, 65):
            a = xw.integrated_gradients(model, images[pending], labels[pending], baseline="black", steps=steps,
                                        rule=rule)
            met = np.abs(a.delta) <= 0.01 * np.abs(a.outputs - a.baseline_outputs)
            needed[pending[met]], pending = steps, pending[~met]
            if not len(pending):
                break
        assert np.median(auto.evaluations) < np.median(needed), rule


def test_auto_respects_max_steps(zoo):
    model, images, labels = zoo
    a = IntegratedGradients(model, baseline="black", steps="auto", tolerance=1e-9, max_steps=9)(images[0], labels[0])
    assert a.evaluations <= 9


# ----------------------------------------------------------------- streaming
@pytest.mark.parametrize("rule", RULES)
def test_path_stream_rises_through_alpha_and_ends_with_the_full_call(cnn, images, rule):
    explainer = IntegratedGradients(cnn, baseline="noise", seed=0, steps=9, rule=rule, batch_size=4)
    partials = list(explainer.stream(images[:2], [1, 2], order="path"))
    full = explainer(images[:2], [1, 2])
    last = partials[-1]
    assert np.array_equal(last.values, full.values) and np.array_equal(last.delta, full.delta)
    assert [p.progress for p in partials] == sorted(p.progress for p in partials) and last.progress == 1.0
    for partial in partials:
        alphas, sums, rises = (partial.info[key] for key in ("alphas", "partial_sums", "path_outputs"))
        assert alphas.ndim == 1 and sums.shape == rises.shape == (2, len(alphas))
        assert np.all(np.diff(alphas) > 0) and alphas[0] == 0.0
        np.testing.assert_allclose(sums[:, -1], partial.values.reshape(2, -1).sum(axis=1), atol=1e-5)
        np.testing.assert_allclose(partial.delta, sums[:, -1] - rises[:, -1], atol=1e-5)
    assert last.info["alphas"][-1] == 1.0
    np.testing.assert_allclose(last.info["path_outputs"][:, -1], full.outputs - full.baseline_outputs, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 4, 7, 13])
def test_path_stream_does_not_depend_on_the_chunk_size(cnn, images, batch_size):
    """3 images × 2 baselines = 6 paths; chunks smaller than, unaligned with and larger than a node's rows."""
    stack = np.stack([np.zeros(images.shape[1:]), np.full(images.shape[1:], 0.5)]).astype("float32")
    stack = np.broadcast_to(stack[:, np.newaxis], (2, *images.shape)).copy()
    options = dict(baseline=stack, steps=5, rule="riemann_middle")
    expected = IntegratedGradients(cnn, batch_size=30, **options).stream(images, [0, 1, 2])
    expected = list(expected)[-1]
    partials = list(IntegratedGradients(cnn, batch_size=batch_size, **options).stream(images, [0, 1, 2]))
    assert_close(partials[-1].values, expected.values, rel=1e-6)
    np.testing.assert_allclose(partials[-1].info["partial_sums"], expected.info["partial_sums"], rtol=1e-5)
    np.testing.assert_allclose(partials[-1].info["path_outputs"], expected.info["path_outputs"], rtol=1e-5)
    chunk_ends = [min(30, end) for end in range(batch_size, 30 + batch_size, batch_size)]
    assert [p.step for p in partials] == sorted({end // 6 for end in chunk_ends if end >= 6})  # nodes completed
    for partial in partials:
        sums = partial.values.reshape(3, -1).sum(axis=1)
        np.testing.assert_allclose(sums, partial.info["partial_sums"][:, -1], atol=1e-5)


def test_path_partial_equals_ig_up_to_that_alpha(cnn, images):
    """The partial at α_k is (x − x′) · ∫₀^α_k ∇F, here with the right rule: Σ_{j≤k} w ∇F(α_j)."""
    explainer = IntegratedGradients(cnn, baseline=0.0, steps=8, rule="riemann_right", batch_size=3)
    partials = list(explainer.stream(images[0], 4, order="path"))
    alphas, weights = quadrature("riemann_right", 8)
    assert [p.step for p in partials] == [3, 6, 8]  # one partial per chunk of 3 nodes
    expected = reference_ig(cnn, images[0], 4, np.zeros_like(images[0]), alphas[:6], weights[:6])
    partial = partials[1]
    assert_close(partial.values, expected, rel=1e-5)


def test_path_partial_sums_track_the_path_outputs_with_many_steps(zoo):
    model, images, labels = zoo
    partial = list(IntegratedGradients(model, baseline="black", steps=128).stream(images[0], labels[0]))[-1]
    sums, rises = partial.info["partial_sums"][0], partial.info["path_outputs"][0]
    assert np.max(np.abs(sums - rises)) < 0.02 * np.max(np.abs(rises))


@pytest.mark.parametrize("rule", RULES)
def test_refine_stream_goes_coarse_to_fine_and_ends_with_the_rule(cnn, images, rule):
    explainer = IntegratedGradients(cnn, baseline=0.5, steps=11, rule=rule, batch_size=4)
    partials = list(explainer.stream(images, 2, order="refine"))
    assert [p.step for p in partials] == [1, 2, 4, 8, 11]
    assert [p.evaluations for p in partials] == [1, 2, 4, 8, 11]
    assert_close(partials[-1].values, explainer(images, 2).values, rel=1e-6)


def test_auto_streams_refinements_that_end_with_the_full_call(zoo):
    model, images, labels = zoo
    explainer = IntegratedGradients(model, baseline="black", steps="auto", tolerance=0.002)
    partials = list(explainer.stream(images[1], labels[1]))
    assert len(partials) >= 2 and partials[-1].progress == 1.0
    assert all(0 < p.progress < 1 for p in partials[:-1])
    evaluations = [p.evaluations for p in partials]
    assert evaluations == sorted(evaluations)
    assert np.array_equal(partials[-1].values, explainer(images[1], labels[1]).values)


# ---------------------------------------------------------- no retracing
def test_changing_steps_baseline_rule_or_target_never_retraces(cnn, images):
    wrapped = as_target_model(cnn)
    xw.integrated_gradients(cnn, images, steps=3)
    traces = wrapped.traces
    for options, target in [(dict(steps=7), 1), (dict(steps=5, rule="gauss_legendre"), [0, 1, 2]),
                            (dict(baseline="blur", steps=4), None), (dict(baseline="noise", steps="auto"), 3),
                            (dict(baseline=np.zeros((3, 8, 8, 3)), steps=2), 4)]:
        xw.integrated_gradients(cnn, images, target, **options)
    assert wrapped.traces == traces


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(rule="simpson"), "unknown rule 'simpson'"),
        (dict(steps=0), "steps must be an int ≥ 1 or 'auto'"),
        (dict(steps=2.5), "steps must be an int"),
        (dict(steps="many"), "steps must be an int"),
        (dict(steps=1), "needs steps ≥ 2"),
        (dict(steps="auto", tolerance=0), "tolerance must be a positive number"),
        (dict(steps="auto", tolerance=-0.1), "tolerance must be a positive number"),
        (dict(steps="auto", max_steps=0), "max_steps must be an int ≥ 1"),
        (dict(baseline="grey"), "unknown baseline 'grey'"),
        (dict(batch_size=0), "batch_size must be a positive int"),
        (dict(batch_size=-4), "batch_size must be a positive int"),
    ],
)
def test_bad_options_raise_a_clear_error(cnn, options, message):
    with pytest.raises(ValueError, match=message):
        IntegratedGradients(cnn, **options)


@pytest.mark.parametrize(
    "x, target, options, message",
    [
        (np.zeros((8, 8)), None, {}, "one image"),
        (np.full((2, 8, 8, 3), np.nan), None, {}, "NaN or Inf"),
        (np.zeros((2, 8, 8, 3), dtype=bool), None, {}, "real numbers"),
        (np.zeros((2, 8, 8, 1)), None, {}, "channels"),
        (np.zeros((2, 8, 8, 3)), 5, {}, "out of range"),
        (np.zeros((2, 8, 8, 3)), [0, 1, 2], {}, "one class per image"),
        (np.zeros((2, 8, 8, 3)), None, dict(baseline=np.zeros((8, 8, 2))), "does not fit"),
        (np.zeros((2, 8, 8, 3)), None, dict(baseline=np.zeros((3, 8, 8, 3))), "baseline has 3 images"),
        (np.zeros((2, 8, 8, 3)), None, dict(baseline=np.full((8, 8, 3), np.inf)), "NaN or Inf"),
    ],
)
def test_bad_inputs_raise_a_clear_error(cnn, x, target, options, message):
    with pytest.raises(ValueError, match=message):
        xw.integrated_gradients(cnn, x, target, steps=3, **options)


def test_bad_stream_orders_raise_a_clear_error(cnn, images):
    with pytest.raises(ValueError, match="order must be 'path' or 'refine'"):
        IntegratedGradients(cnn, steps=3).stream(images, order="random")
    with pytest.raises(ValueError, match="order='path' needs a fixed number of steps"):
        IntegratedGradients(cnn, steps="auto").stream(images, order="path")
