"""Saliency and gradient × input: analytic answers, the eager reference, shapes and streaming."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets.methods.gradient import GradientXInput, Saliency
from xai_widgets.model import ARGMAX, TargetModel

from .helpers import assert_close, linear_model, reference_gradient


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(size=(5, 8, 8, 3)).astype("float32")


def test_saliency_is_the_weight_and_gradient_x_input_is_x_times_weight_on_a_linear_model():
    model, weights = linear_model()
    x = np.random.default_rng(0).uniform(size=(4, 6, 5, 3)).astype("float32")
    targets = [0, 3, 1, 2]
    expected = np.moveaxis(weights[..., targets], -1, 0)
    np.testing.assert_allclose(xw.saliency(model, x, targets).values, expected, rtol=1e-6)
    np.testing.assert_allclose(xw.gradient_x_input(model, x, targets).values, x * expected, rtol=1e-6)


@pytest.mark.parametrize("batch_size", [None, 2])
def test_saliency_agrees_with_an_eager_tape_one_image_at_a_time(cnn, images, batch_size):
    targets = [4, 0, 1, 3, 2]
    saliency = xw.saliency(cnn, images, targets, batch_size=batch_size)
    product = xw.gradient_x_input(cnn, images, targets, batch_size=batch_size)
    for index, target in enumerate(targets):
        gradient, score = reference_gradient(cnn, images[index], target)
        assert_close(saliency.values[index], gradient, rel=1e-5)
        assert_close(product.values[index], images[index] * gradient, rel=1e-5)
        assert saliency.outputs[index] == pytest.approx(score, rel=1e-5, abs=1e-6)


def test_target_none_explains_the_arg_max_class(cnn, images):
    a = xw.saliency(cnn, images)
    np.testing.assert_array_equal(a.target, np.argmax(cnn(images).numpy(), axis=1))
    assert_close(a.values, xw.saliency(cnn, images, a.target).values, rel=0)


@pytest.mark.parametrize("batch_size", [None, 2])
@pytest.mark.parametrize("method", ["gradient_x_input", "grad_cam_plus_plus"])
def test_target_none_picks_the_class_in_the_gradient_pass_without_a_forward_pass(cnn, images, method, batch_size):
    wrapped = TargetModel(cnn)
    chosen = xw.explain(wrapped, images, method, batch_size=batch_size)
    explicit = xw.explain(wrapped, images, method, np.argmax(cnn(images).numpy(), axis=1), batch_size=batch_size)
    np.testing.assert_array_equal(chosen.target, explicit.target)
    np.testing.assert_array_equal(chosen.values, explicit.values)
    np.testing.assert_array_equal(chosen.outputs, explicit.outputs)
    assert not any(kind == "forward" for kind, *_ in wrapped._compiled)  # no separate logits pass ran


def test_arg_max_targets_must_come_in_an_array_that_can_receive_the_classes(cnn, images):
    with pytest.raises(ValueError, match="int32 numpy array"):
        list(TargetModel(cnn).gradients(images, [ARGMAX] * len(images)))


def test_one_image_gives_unbatched_fields(cnn, images):
    a = xw.saliency(cnn, images[2].astype("float64"), 1)
    assert a.values.shape == (8, 8, 3) and a.values.dtype == np.float32
    assert np.ndim(a.target) == 0 and np.ndim(a.outputs) == 0 and not a.is_batch
    assert_close(a.values, xw.saliency(cnn, images[2:3], 1).values[0], rel=1e-6)


def test_the_stream_has_one_partial_equal_to_the_call(cnn, images):
    explainer = GradientXInput(cnn)
    partials = list(explainer.stream(images, 2))
    assert len(partials) == 1 and partials[0].progress == 1.0
    np.testing.assert_array_equal(partials[0].values, explainer(images, 2).values)


def test_explain_runs_every_gradient_method_by_name(cnn, images):
    for method, options in [("saliency", {}), ("gradient_x_input", {}), ("integrated_gradients", dict(steps=4)),
                            ("smoothgrad", dict(samples=3, seed=0)), ("grad_cam", {}),
                            ("grad_cam_plus_plus", {})]:
        a = xw.explain(cnn, images[:2], method, target=1, **options)
        assert a.method == method and a.values.shape[:3] == (2, 8, 8)


@pytest.mark.parametrize("x, target, message", [
    (np.zeros((8, 8)), None, "one image"),
    (np.zeros((2, 7, 8, 3)), None, "resize"),
    (np.full((2, 8, 8, 3), np.nan), None, "NaN or Inf"),
    (np.array([[["a"]]]), None, "real numbers"),
    (np.zeros((2, 8, 8, 3)), 5, "out of range"),
    (np.zeros((2, 8, 8, 3)), 1.0, "must be an int"),
])
def test_bad_inputs_raise_a_clear_error(cnn, x, target, message):
    with pytest.raises(ValueError, match=message):
        xw.saliency(cnn, x, target)


def test_saliency_takes_no_method_options(cnn):
    with pytest.raises(TypeError, match="takes no option"):
        Saliency(cnn, steps=3)
