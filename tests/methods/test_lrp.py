"""LRP: gradient × input, conservation, every rule against the numpy reference, composites, models."""

import numpy as np
import pytest

import xai_widgets as xw

from . import reference_lrp
from .helpers import reference_gradient
from .propagation_models import (APPLICATIONS, application, application_images, branchy_net, chain_cnn,
                                 everything_net, without_biases)

RULE_PARAMETERS = dict(epsilon=1e-6, alpha=2.0, beta=1.0, gamma=0.25)


def images_for(model, count=2, low=0.0, high=1.0, seed=0):
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(low, high, (count, *shape)).astype("float32")


def relative_error(actual, expected):
    return np.abs(actual - expected).max() / np.abs(expected).max()


def relevance_sums_per_step(explainer, image, target):
    """(Σ R at each step's output, Σ R it passes on) for every step, and the relevance at the input."""
    rows = explainer.relevance_by_layer(image, target)
    sums = [(row, row["relevance"], sum(part for part in row["passed"] if part is not None)) for row in rows]
    return sums, explainer(image, target).values


# ------------------------------------------------------------------ oracles
@pytest.mark.parametrize("options", [dict(rule="zero"), dict(rule="epsilon", epsilon=1e-10)],
                         ids=["lrp_0", "epsilon_to_0"])
def test_lrp_0_equals_gradient_times_input_on_a_bias_free_relu_network(options):
    model = branchy_net(bias=False)
    images = images_for(model, 3)
    result = xw.lrp(model, images, target=[0, 2, 4], **options)
    for image, target, relevance in zip(images, [0, 2, 4], result.values):
        gradient, _ = reference_gradient(model, image, target)
        assert relative_error(relevance, gradient * image) <= 1e-4


@pytest.mark.parametrize("options", [dict(rule="epsilon", epsilon=1e-10), dict(rule="zplus"),
                                     dict(rule="alpha_beta", alpha=2.0, beta=1.0),
                                     dict(rule="alpha_beta", alpha=1.5, beta=0.5)],
                         ids=["epsilon_to_0", "zplus", "alpha2_beta1", "alpha1.5_beta0.5"])
def test_relevance_is_conserved_layer_by_layer_through_add_and_concatenate(options):
    model = branchy_net(bias=False)
    image = images_for(model, 1)[0]
    logit = float(model(image[np.newaxis])[0, 3])
    explainer = xw.LRP(model, **options)
    sums, at_input = relevance_sums_per_step(explainer, image, target=3)
    kinds = {row["kind"] for row, _, _ in sums}
    assert {"merge", "reshape", "maxpool", "pool", "weighted", "activation"} <= kinds
    assert any(row["type"] == "Concatenate" for row, _, _ in sums)
    for row, incoming, outgoing in sums:
        assert abs(outgoing - incoming) <= 1e-4 * abs(logit), row["layer"]
    assert abs(at_input.sum() - logit) <= 1e-4 * abs(logit)
    np.testing.assert_allclose(explainer(image, target=3).delta, at_input.sum() - logit, atol=1e-5 * abs(logit))


def test_delta_is_the_relevance_sum_minus_the_target_logit():
    model = chain_cnn(bias=True)
    images = images_for(model, 3)
    result = xw.lrp(model, images, target=1)
    logits = model(images).numpy()[:, 1]
    np.testing.assert_allclose(result.outputs, logits, rtol=1e-5)
    np.testing.assert_allclose(result.delta, result.values.sum(axis=(1, 2, 3)) - logits, rtol=1e-4, atol=1e-5)
    assert result.method == "lrp" and result.options["rule"] == "epsilon"


# --------------------------------------------------------- numpy reference
@pytest.mark.parametrize("rule, parameters", [
    ("zero", {}),
    ("epsilon", {}),
    ("epsilon", dict(epsilon=0.1)),
    ("zplus", {}),
    ("alpha_beta", {}),
    ("alpha_beta", dict(alpha=3.0, beta=2.0)),
    ("gamma", {}),
    ("gamma", dict(gamma=1.0)),
    ("flat", {}),
    ("wsquare", {}),
], ids=lambda value: str(value) if isinstance(value, str) else "-".join(f"{k}{v}" for k, v in value.items()))
def test_each_rule_matches_the_numpy_reference(rule, parameters):
    model = chain_cnn(bias=True)
    images = images_for(model, 2, low=-1.0, high=1.0)  # negative inputs exercise the x⁻ terms
    result = xw.lrp(model, images, target=2, rule=rule, **parameters)
    for image, relevance in zip(images, result.values):
        expected, _ = reference_lrp.lrp(model, image, 2, rule, {**RULE_PARAMETERS, **parameters})
        assert relative_error(relevance, expected) <= 1e-4


@pytest.mark.parametrize("composite, rules", [
    ("epsilon_plus", ["zplus", "zplus", "zplus", "epsilon", "epsilon"]),
    ("epsilon_plus_flat", ["flat", "zplus", "zplus", "epsilon", "epsilon"]),
    ("epsilon_gamma_box", ["zbox", "gamma", "gamma", "epsilon", "epsilon"]),
    ("epsilon_alpha2_beta1", ["alpha_beta", "alpha_beta", "alpha_beta", "epsilon", "epsilon"]),
])
def test_each_composite_matches_the_numpy_reference(composite, rules):
    model = chain_cnn(bias=True)
    images = images_for(model, 2, low=-1.0, high=1.0)
    result = xw.lrp(model, images, target=0, composite=composite)  # ZBox bounds inferred: (-1, 1)
    for image, relevance in zip(images, result.values):
        expected, _ = reference_lrp.lrp(model, image, 0, rules, RULE_PARAMETERS, bounds=(-1.0, 1.0))
        assert relative_error(relevance, expected) <= 1e-4


def test_zbox_uses_the_given_bounds_mapped_through_preprocessing():
    model = chain_cnn(bias=True)
    images = images_for(model, 1, low=0.2, high=0.7)
    low = np.full(images.shape[1:], 0.1, "float32")
    composite = xw.Composite(first="zbox", conv="epsilon", dense="epsilon")
    result = xw.lrp(model, images, target=1, composite=composite, bounds=(low, 0.9))
    expected, _ = reference_lrp.lrp(model, images[0], 1, ["zbox"] + ["epsilon"] * 4, RULE_PARAMETERS,
                                    bounds=(low, 0.9))
    assert relative_error(result.values[0], expected) <= 1e-4


def test_users_can_register_composites_and_override_single_layers():
    model = chain_cnn(bias=True)
    images = images_for(model, 1, low=-1.0, high=1.0)
    dense_names = [layer.name for layer in model.layers if type(layer).__name__ == "Dense"]
    xw.COMPOSITES["test_gamma_wsquare"] = xw.Composite(conv="gamma", dense="epsilon", first="wsquare",
                                                       layers={dense_names[0]: "zplus"})
    try:
        result = xw.lrp(model, images, target=3, composite="test_gamma_wsquare", gamma=0.5)
    finally:
        del xw.COMPOSITES["test_gamma_wsquare"]
    expected, _ = reference_lrp.lrp(model, images[0], 3, ["wsquare", "gamma", "gamma", "zplus", "epsilon"],
                                    {**RULE_PARAMETERS, "gamma": 0.5})
    assert relative_error(result.values[0], expected) <= 1e-4


def test_a_user_defined_rule_value_fills_the_same_template():
    from xai_widgets.methods.propagation.rules import Group, Rule, Term, identity, keep

    model = chain_cnn(bias=True)
    images = images_for(model, 1, low=-1.0, high=1.0)
    half_epsilon = Rule("my_epsilon", (Group((Term(identity, keep),)),), stabilizer=0.05)
    result = xw.lrp(model, images, target=1, rule=half_epsilon)
    expected, _ = reference_lrp.lrp(model, images[0], 1, "epsilon", {"epsilon": 0.05})
    assert relative_error(result.values[0], expected) <= 1e-4


# ----------------------------------------------------------- option errors
@pytest.mark.parametrize("alpha, beta", [(2.0, 2.0), (1.0, 1.0), (3.0, 1.0), (-1.0, -2.0)])
def test_alpha_minus_beta_must_be_one(alpha, beta):
    with pytest.raises(ValueError, match="alpha"):
        xw.LRP(chain_cnn(), rule="alpha_beta", alpha=alpha, beta=beta)


@pytest.mark.parametrize("options, message", [
    (dict(rule="nonsense"), "unknown LRP rule"),
    (dict(composite="nonsense"), "unknown composite"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(gamma="big"), "gamma must be a number"),
    (dict(bounds=(1.0, 0.0)), "low < high"),
])
def test_bad_options_raise_value_errors_that_say_what_is_wrong(options, message):
    with pytest.raises(ValueError, match=message):
        xw.LRP(chain_cnn(), **options)


def test_zbox_is_refused_where_the_input_bounds_are_unknown():
    model = chain_cnn()
    with pytest.raises(ValueError) as error:
        xw.LRP(model, rule="zbox")
    second_conv = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"][1]
    assert second_conv in str(error.value) and "Conv2D" in str(error.value) and "lrp" in str(error.value)


# ------------------------------------------------------- gates and models
def test_a_multiply_gate_passes_all_relevance_to_the_signal():
    model = without_biases(everything_net())
    image = images_for(model, 1)[0]
    explainer = xw.LRP(model, rule="epsilon", epsilon=1e-10)
    rows = explainer.relevance_by_layer(image, target=1)
    gate = next(row for row in rows if row["kind"] == "gate")
    assert gate["layer"] == "se_gate" and gate["passed"][1] is None
    assert abs(gate["passed"][0] - gate["relevance"]) <= 1e-6 * abs(gate["relevance"])
    gate_branch = ("se_squeeze", "se_reduce", "se_expand")
    assert not any(row["layer"].startswith(gate_branch) for row in rows)  # the gate branch receives nothing


@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet"])
def test_lrp_runs_on_the_zoo_models_and_conserves_relevance_without_biases(name):
    model = xw.zoo.load(name)
    images, labels, _ = xw.zoo.shapes(4, seed=3)
    trained = xw.lrp(model, images, composite="epsilon_plus")
    assert np.isfinite(trained.values).all() and trained.values.shape == images.shape
    np.testing.assert_allclose(trained.delta, trained.values.sum(axis=(1, 2, 3)) - trained.outputs, atol=1e-4)
    bias_free = without_biases(model)
    for options in (dict(rule="epsilon", epsilon=1e-9), dict(composite="epsilon_plus", epsilon=1e-9)):
        result = xw.lrp(bias_free, images, target=labels, **options)
        assert np.abs(result.delta).max() <= 1e-3 * np.abs(result.outputs).max(), options


@pytest.mark.slow
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_lrp_runs_on_keras_applications_and_conserves_relevance_without_biases(name):
    model = application(name, "bias_free")
    images = application_images(name)
    result = xw.lrp(model, images, composite="epsilon_plus", epsilon=1e-9)
    assert np.isfinite(result.values).all()
    # z⁺ rule: a unit whose inputs all contribute negatively (common in the 3×3 single-channel windows of
    # depthwise convolutions) has z⁺ = 0 and drops its relevance; everything else is conserved.
    tolerance = {"MobileNetV2": 1e-2, "EfficientNetB0": 5e-2}.get(name, 1e-3)  # measured: 2.7e-3, 1.3e-2, ≤ 3e-4
    assert np.abs(result.delta).max() <= tolerance * np.abs(result.outputs).max()
