"""Grad-CAM and Grad-CAM++: references, layer choice, shapes, errors."""

import numpy as np
import pytest
import tensorflow as tf

import xai_widgets as xw
from xai_widgets._backend import keras
from xai_widgets.methods.cam import GradCAM, GradCAMPlusPlus
from xai_widgets.model import as_target_model

from .helpers import assert_close


def sequential_cnn():
    keras.utils.set_random_seed(4)
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="first"),
        keras.layers.Conv2D(5, 3, strides=2, padding="same", activation="relu", name="second"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, name="logits"),
    ], name="sequential_cnn")


def reference_cam(model, layer_name, image, target, plus_plus=False):
    """Grad-CAM(++) of one image from an eager GradientTape on the split model (the independent reference)."""
    split = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, model.outputs[0]])
    with tf.GradientTape() as tape:
        maps, logits = split(image[np.newaxis], training=False)
        score = logits[0, target]
    gradient = tape.gradient(score, maps).numpy()[0].astype(np.float64)
    maps = maps.numpy()[0].astype(np.float64)
    if plus_plus:
        denominator = 2 * gradient**2 + maps.sum(axis=(0, 1)) * gradient**3
        alpha = np.divide(gradient**2, denominator, out=np.zeros_like(gradient), where=denominator != 0)
        weights = (alpha * np.maximum(gradient, 0)).sum(axis=(0, 1))
    else:
        weights = gradient.mean(axis=(0, 1))
    cam = np.maximum((maps * weights).sum(axis=-1), 0)
    return tf.image.resize(cam[..., np.newaxis], image.shape[:2], method="bilinear").numpy()


@pytest.mark.parametrize("explainer, plus_plus", [(GradCAM, False), (GradCAMPlusPlus, True)])
@pytest.mark.parametrize("first_convolution", [False, True])
def test_cam_agrees_with_an_eager_tape_per_image(cnn, images, explainer, plus_plus, first_convolution):
    layer = cnn.layers[1].name if first_convolution else None
    a = explainer(cnn, layer=layer, batch_size=2)(images, [0, 2, 4])
    name = a.options["layer"]
    for index, target in enumerate([0, 2, 4]):
        assert_close(a.values[index], reference_cam(cnn, name, images[index], target, plus_plus), rel=1e-5)


def test_values_are_non_negative_maps_at_the_input_size_with_one_channel(cnn, images):
    batch = xw.grad_cam(cnn, images)
    single = xw.grad_cam_plus_plus(cnn, images[0])
    assert batch.values.shape == (3, 8, 8, 1) and single.values.shape == (8, 8, 1)
    assert batch.values.min() >= 0 and single.values.min() >= 0
    assert batch.values.dtype == np.float32


def test_values_are_the_layer_map_upsampled_bilinearly(images):
    model = sequential_cnn()
    a = xw.grad_cam(model, images, layer="second")
    assert a.info["layer_maps"].shape == (3, 4, 4)
    upsampled = tf.image.resize(a.info["layer_maps"][..., np.newaxis], (8, 8), method="bilinear").numpy()
    np.testing.assert_allclose(a.values, upsampled, rtol=1e-6)


def test_layer_none_picks_the_last_convolution_in_functional_and_sequential_models(cnn):
    assert GradCAM(cnn).options["layer"] == cnn.layers[3].name
    assert GradCAM(sequential_cnn()).options["layer"] == "second"


def test_a_layer_can_be_given_by_name_or_object(images):
    model = sequential_cnn()
    by_name = xw.grad_cam(model, images, 1, layer="first")
    by_object = xw.grad_cam(model, images, 1, layer=model.get_layer("first"))
    np.testing.assert_array_equal(by_name.values, by_object.values)
    assert by_object.options["layer"] == "first"


def test_a_nested_backbone_counts_as_the_last_convolutional_layer(images):
    inputs = keras.Input((8, 8, 3))
    backbone_input = keras.Input((8, 8, 3))
    backbone = keras.Model(backbone_input, keras.layers.Conv2D(4, 3, activation="relu")(backbone_input),
                           name="backbone")
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    model = keras.Model(inputs, outputs)
    a = xw.grad_cam(model, images)
    assert a.options["layer"] == "backbone" and a.values.shape == (3, 8, 8, 1)
    assert a.info["layer_maps"].shape == (3, 6, 6)


def test_the_zoo_models_give_maps_for_the_class_object():
    model = xw.zoo.load("shapes_resnet")
    images, labels, _ = xw.zoo.shapes(4, seed=11)
    a = xw.grad_cam(model, images, labels)
    assert a.values.shape == (4, 64, 64, 1) and np.all(a.values.reshape(4, -1).max(axis=1) > 0)


def test_changing_the_target_never_retraces(cnn, images):
    wrapped = as_target_model(cnn)
    xw.grad_cam(cnn, images)
    traces = wrapped.traces
    for target in (0, [1, 2, 3], None):
        xw.grad_cam(cnn, images, target)
        xw.grad_cam(cnn, images[:2], target if target != [1, 2, 3] else [1, 2])
    assert wrapped.traces == traces


# --------------------------------------------------------------- bad input
def test_a_model_without_convolution_is_refused_naming_the_model():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)], name="flat")
    with pytest.raises(ValueError, match="model 'flat' has no convolutional layer"):
        GradCAM(model)


def test_an_unknown_layer_name_is_refused_listing_the_convolutions(images):
    with pytest.raises(ValueError, match=r"model 'sequential_cnn' has no layer named 'conv9'.*\['first', 'second'\]"):
        GradCAMPlusPlus(sequential_cnn(), layer="conv9")


def test_a_layer_without_feature_maps_is_refused():
    with pytest.raises(ValueError, match="layer 'logits' of model 'sequential_cnn' has output shape"):
        GradCAM(sequential_cnn(), layer="logits")


def test_a_layer_of_another_model_is_refused(cnn):
    with pytest.raises(ValueError, match="is not a layer of model"):
        GradCAM(sequential_cnn(), layer=cnn.layers[1])


def test_a_plain_callable_is_refused():
    with pytest.raises(ValueError, match="needs a Sequential or Functional Keras model"):
        GradCAM(lambda inputs: inputs[:, 0, 0, :])


def test_bad_inputs_and_targets_raise_a_clear_error(cnn):
    with pytest.raises(ValueError, match="out of range"):
        xw.grad_cam(cnn, np.zeros((2, 8, 8, 3)), 7)
    with pytest.raises(ValueError, match="NaN or Inf"):
        xw.grad_cam(cnn, np.full((8, 8, 3), np.nan))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        xw.grad_cam(cnn, np.zeros((8, 8, 3)), batch_size=0)
