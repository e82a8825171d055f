"""The propagation walk shared by LRP, DeepLIFT and guided backprop: tracing, canonizer, errors, compilation."""

from collections import Counter

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras
from xai_widgets.methods.propagation import folded_layers, trace
from xai_widgets.methods.propagation.walk import compiled_propagation

from .propagation_models import APPLICATIONS, application, application_images, branchy_net, everything_net

METHODS = [xw.LRP, xw.DeepLIFT, xw.GuidedBackprop]


def images_for(model, count=3, seed=0):
    shape = tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(0.0, 1.0, (count, *shape)).astype("float32")


def test_trace_inlines_nested_models_and_drops_no_op_layers():
    graph = trace(everything_net(), "lrp")
    names = [step.name for step in graph.steps]
    assert "nested_block/depthwise" in names and "nested_block/relu6" in names
    assert not any("dropout" in name for name in names)
    assert [(step.name, step.kind) for step in graph.steps if "separable" in step.name] == [
        ("separable/depthwise", "weighted"), ("separable/pointwise", "weighted"), ("separable_bn", "affine")]
    gate = next(step for step in graph.steps if step.kind == "gate")
    assert gate.gate == 1  # the (N, 1, 1, C) sigmoid branch


def test_traced_graph_reproduces_the_model_outputs():
    model = everything_net()
    images = images_for(model)
    expected = model(images, training=False).numpy()
    np.testing.assert_allclose(trace(model, "lrp")(images).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_canonizer_keeps_the_logits_and_leaves_the_model_untouched():
    model = everything_net()
    images = images_for(model)
    weights_before = [w.copy() for w in model.get_weights()]
    expected = model(images, training=False).numpy()
    graph = xw.canonize(model)
    # conv → BN, depthwise (nested) → BN, separable (pointwise half) → BN; the BN after Concatenate stays
    assert folded_layers(graph) == [("stem_conv", "stem_bn"), ("nested_block/depthwise", "depthwise_bn"),
                                    ("separable/pointwise", "separable_bn")]
    assert [step.name for step in graph.steps if step.kind == "affine"] == ["rescaling", "normalization",
                                                                           "concat_bn"]
    scale = np.abs(expected).max()
    assert np.abs(graph(images).numpy() - expected).max() <= 1e-5 * scale
    for before, after in zip(weights_before, model.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_batch_norm_canonizer_keeps_the_logits_of_keras_applications(name):
    model = application(name)
    images = application_images(name)
    expected = model(images, training=False).numpy()
    graph = xw.canonize(model)
    assert set(folded_layers(graph)) == foldable_pairs(model)
    assert np.abs(graph(images).numpy() - expected).max() <= 1e-5 * np.abs(expected).max()


def foldable_pairs(model):
    """(linear layer, BatchNormalization) pairs where the BN is the only reader of a linear output."""
    readers = Counter(id(tensor) for layer in model.layers for node in layer._inbound_nodes
                      for tensor in node.input_tensors)
    linear = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    pairs = set()
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            producer = layer.input._keras_history.operation
            if (isinstance(producer, linear) and producer.activation.__name__ == "linear"
                    and readers[id(layer.input)] == 1):
                pairs.add((producer.name, layer.name))
    return pairs


@pytest.mark.parametrize("method", METHODS, ids=lambda cls: cls.method)
@pytest.mark.parametrize("layer, type_name", [
    (keras.layers.UpSampling2D(2), "UpSampling2D"),
    (keras.layers.Conv2DTranspose(3, 3, padding="same"), "Conv2DTranspose"),
    (keras.layers.Lambda(lambda x: x * 2.0), "Lambda"),
])
def test_unsupported_layer_error_names_the_layer_its_type_and_the_method(method, layer, type_name):
    inputs = keras.Input((8, 8, 3))
    hidden = layer(keras.layers.Conv2D(3, 3, padding="same")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(hidden)))
    with pytest.raises(ValueError) as error:
        method(model)
    message = str(error.value)
    assert layer.name in message and type_name in message and method.method in message


@pytest.mark.parametrize("method", METHODS, ids=lambda cls: cls.method)
def test_a_softmax_inside_the_model_is_refused(method):
    inputs = keras.Input((6, 6, 3))
    hidden = keras.layers.Dense(4, activation="softmax", name="inner_softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    with pytest.raises(ValueError, match="inner_softmax.*not elementwise"):
        method(model)


def test_a_subclassed_model_and_a_plain_callable_are_refused():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 12)))

    model = Subclassed()
    model(np.zeros((1, 2, 2, 3), "float32"))
    with pytest.raises(ValueError, match="subclassed.*functional API"):
        trace(model, "lrp")
    with pytest.raises(ValueError, match="Keras model"):
        xw.DeepLIFT(lambda images: images[:, 0, 0, :])


def test_lrp_refuses_a_multiply_whose_gate_it_cannot_tell():
    inputs = keras.Input((6, 6, 3))
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    right = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    product = keras.layers.Multiply(name="ambiguous_product")([left, right])
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(product)))
    with pytest.raises(ValueError, match="ambiguous_product.*Multiply"):
        xw.LRP(model)
    # DeepLIFT and guided backprop need no gate: both inputs get their share
    delta = xw.deeplift(model, images_for(model), baseline="blur").delta
    assert np.abs(delta).max() < 1e-4


@pytest.mark.parametrize("make", [
    lambda model: xw.LRP(model, composite="epsilon_gamma_box"),
    lambda model: xw.DeepLIFT(model, rule="reveal_cancel"),
    lambda model: xw.GuidedBackprop(model),
], ids=["lrp", "deeplift", "guided_backprop"])
def test_the_walk_is_compiled_once_per_model_and_rule_set(make):
    model = branchy_net()
    explainer = make(model)
    for count in (1, 3, 5, 2):
        explainer(images_for(model, count))
    again = make(model)
    again(images_for(model, 4))
    propagation = compiled_propagation(explainer.model, explainer.rules)
    assert propagation is compiled_propagation(again.model, again.rules)
    assert propagation.traces == 1


def test_other_rule_parameters_compile_another_walk():
    model = branchy_net()
    first = xw.LRP(model, rule="epsilon", epsilon=1e-6)
    second = xw.LRP(model, rule="epsilon", epsilon=1e-3)
    assert compiled_propagation(first.model, first.rules) is not compiled_propagation(second.model, second.rules)


@pytest.mark.parametrize("make", [lambda m: xw.LRP(m), lambda m: xw.DeepLIFT(m), lambda m: xw.GuidedBackprop(m)],
                         ids=["lrp", "deeplift", "guided_backprop"])
def test_stream_yields_one_final_partial_equal_to_the_call(make):
    model = branchy_net()
    explainer = make(model)
    image = images_for(model, 1)[0]
    partials = list(explainer.stream(image, target=2))
    assert len(partials) == 1 and partials[0].progress == 1.0
    np.testing.assert_array_equal(partials[0].values, explainer(image, target=2).values)
    assert partials[0].values.shape == image.shape and partials[0].target == 2


@pytest.mark.parametrize("method", ["lrp", "deeplift", "guided_backprop"])
def test_methods_run_by_name_through_explain(method):
    model = branchy_net()
    images = images_for(model, 2)
    by_name = xw.explain(model, images, method=method, target=[0, 1])
    direct = getattr(xw, method)(model, images, target=[0, 1])
    np.testing.assert_array_equal(by_name.values, direct.values)
    assert by_name.method == method


def list_input_models():
    """Functional models whose input structure is a one-element list, at the top and nested."""
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    flat = keras.Model([inputs], keras.layers.Flatten()(features), name="list_input_features")
    outer = keras.Input((8, 8, 3))
    return [keras.Model([inputs], keras.layers.Dense(3)(keras.layers.Flatten()(features))),
            keras.Model([outer], keras.layers.Dense(3)(flat(outer)))]


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("make", METHODS)
def test_the_walk_calls_list_input_models_without_a_structure_warning(make):
    for model in list_input_models():
        result = make(model)(images_for(model, 2), target=[0, 2])
        assert np.isfinite(result.values).all() and np.abs(result.values).max() > 0


@pytest.mark.slow
@pytest.mark.filterwarnings("error::UserWarning")
def test_a_calibrated_keras_application_is_built_and_explained_without_a_structure_warning():
    # the BatchNorm calibration once called a probe model built on `model.inputs` (a list) with one tensor
    model = application.__wrapped__("MobileNetV2", "calibrated")
    result = xw.lrp(model, application_images("MobileNetV2"), rule="epsilon")
    assert np.isfinite(result.values).all() and np.abs(result.values).max() > 0
