"""Specification of `xai_widgets.zoo`: the shapes data set and the bundled models."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xai_widgets import zoo
from xai_widgets.zoo.dataset import SHAPES_CLASSES, shapes

HELD_OUT_SEED = 12345
MAX_OBJECT_DIAMETER_FRACTION = 0.44


@pytest.fixture(scope="module")
def sample():
    return shapes(600, seed=3)


@pytest.fixture(scope="module")
def held_out():
    return shapes(500, seed=HELD_OUT_SEED)


@pytest.fixture(scope="module")
def bundled_models():
    return {name: zoo.load(name) for name in zoo.MODELS}


@pytest.fixture(params=zoo.MODELS)
def bundled_model(request, bundled_models):
    return request.param, bundled_models[request.param]


def _object_and_rest_colours(images, masks):
    inside = np.array([image[mask].mean(axis=0) for image, mask in zip(images, masks)])
    outside = np.array([image[~mask].mean(axis=0) for image, mask in zip(images, masks)])
    return inside, outside


def test_classes_are_at_least_five_distinct_names():
    assert isinstance(SHAPES_CLASSES, tuple)
    assert len(SHAPES_CLASSES) >= 5
    assert len(set(SHAPES_CLASSES)) == len(SHAPES_CLASSES)
    assert all(isinstance(name, str) for name in SHAPES_CLASSES)


def test_shapes_returns_float_images_in_unit_range_int64_labels_and_bool_masks(sample):
    images, labels, masks = sample
    assert images.shape == (600, 64, 64, 3) and images.dtype == np.float32
    assert labels.shape == (600,) and labels.dtype == np.int64
    assert masks.shape == (600, 64, 64) and masks.dtype == bool
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert labels.min() >= 0 and labels.max() < len(SHAPES_CLASSES)


def test_size_argument_sets_the_resolution():
    images, labels, masks = shapes(3, seed=1, size=32)
    assert images.shape == (3, 32, 32, 3)
    assert masks.shape == (3, 32, 32)


def test_same_seed_gives_identical_output():
    first, second = shapes(20, seed=7), shapes(20, seed=7)
    for first_array, second_array in zip(first, second):
        np.testing.assert_array_equal(first_array, second_array)


def test_different_seeds_give_different_images_and_masks():
    images_a, _, masks_a = shapes(20, seed=7)
    images_b, _, masks_b = shapes(20, seed=8)
    assert np.abs(images_a - images_b).mean() > 0.05
    assert (masks_a != masks_b).any()


def test_every_class_appears_in_roughly_equal_numbers(sample):
    _, labels, _ = sample
    counts = np.bincount(labels, minlength=len(SHAPES_CLASSES))
    expected = len(labels) / len(SHAPES_CLASSES)
    assert counts.min() >= 0.6 * expected
    assert counts.max() <= 1.4 * expected


def test_every_mask_covers_one_object_of_plausible_size(sample):
    _, _, masks = sample
    area_fraction = masks.mean(axis=(1, 2))
    assert area_fraction.min() > 0.005
    assert area_fraction.max() < 0.25
    for mask in masks:
        rows, cols = np.nonzero(mask)
        assert np.ptp(rows) <= MAX_OBJECT_DIAMETER_FRACTION * 64 + 1
        assert np.ptp(cols) <= MAX_OBJECT_DIAMETER_FRACTION * 64 + 1


def test_mask_marks_a_single_colour_that_differs_from_the_rest_of_the_image(sample):
    images, _, masks = sample
    inside, outside = _object_and_rest_colours(images, masks)
    spread_inside = np.array([image[mask].std(axis=0).max() for image, mask in zip(images, masks)])
    assert spread_inside.max() < 0.05
    assert np.linalg.norm(inside - outside, axis=1).min() > 0.2


def test_object_colour_does_not_reveal_the_class(sample):
    images, labels, masks = sample
    object_colours, _ = _object_and_rest_colours(images, masks)
    overall = object_colours.mean(axis=0)
    for label in range(len(SHAPES_CLASSES)):
        class_mean = object_colours[labels == label].mean(axis=0)
        assert np.abs(class_mean - overall).max() < 0.1


@pytest.mark.parametrize(
    "arguments",
    [{"n": 0}, {"n": -3}, {"n": 2.5}, {"n": "4"}, {"n": True}, {"n": 2, "size": 15}, {"n": 2, "size": 32.0}],
)
def test_bad_arguments_raise_value_error(arguments):
    with pytest.raises(ValueError, match="must be"):
        shapes(**arguments)


def test_zoo_imports_without_keras():
    # Load the zoo package under a bare parent package, so the top-level
    # xai_widgets (which needs TensorFlow) is not what is being tested.
    package_root = Path(zoo.__file__).parents[1]
    script = (
        "import sys, types\n"
        "parent = types.ModuleType('xai_widgets')\n"
        f"parent.__path__ = [{str(package_root)!r}]\n"
        "sys.modules['xai_widgets'] = parent\n"
        "import xai_widgets.zoo as zoo\n"
        "zoo.shapes(2)\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_zoo_lists_both_bundled_models():
    assert zoo.MODELS == ("shapes_cnn", "shapes_resnet")


def test_loading_an_unknown_model_raises_value_error_naming_the_available_ones():
    with pytest.raises(ValueError, match="shapes_cnn, shapes_resnet"):
        zoo.load("vgg16")


def test_model_files_are_smaller_than_3_mb():
    for name in zoo.MODELS:
        assert zoo.model_path(name).stat().st_size < 3_000_000


def test_models_map_64x64_rgb_images_to_one_logit_per_class_through_a_linear_dense(bundled_model):
    import keras

    _, model = bundled_model
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, len(SHAPES_CLASSES))
    final_layer = model.layers[-1]
    assert isinstance(final_layer, keras.layers.Dense)
    assert final_layer.activation is keras.activations.linear


def test_shapes_cnn_is_built_only_from_conv_relu_maxpool_flatten_and_dense(bundled_models):
    import keras

    model = bundled_models["shapes_cnn"]
    allowed = (
        keras.layers.InputLayer,
        keras.layers.Conv2D,
        keras.layers.MaxPooling2D,
        keras.layers.Flatten,
        keras.layers.Dense,
        keras.layers.ReLU,
    )
    assert all(type(layer) in allowed for layer in model.layers)
    activations = {layer.activation for layer in model.layers if hasattr(layer, "activation")}
    assert activations <= {keras.activations.relu, keras.activations.linear}


def test_shapes_resnet_has_batchnorm_two_residual_adds_a_concatenate_and_global_pooling(bundled_models):
    import keras

    model = bundled_models["shapes_resnet"]
    layer_types = [type(layer) for layer in model.layers]
    assert layer_types.count(keras.layers.BatchNormalization) >= 1
    assert layer_types.count(keras.layers.Add) >= 2
    assert layer_types.count(keras.layers.Concatenate) >= 1
    assert layer_types.count(keras.layers.GlobalAveragePooling2D) == 1


def test_models_reach_90_percent_accuracy_on_held_out_shapes(bundled_model, held_out):
    name, model = bundled_model
    images, labels, _ = held_out
    predictions = np.argmax(model.predict(images, batch_size=250, verbose=0), axis=1)
    assert np.mean(predictions == labels) >= 0.90, name


@pytest.mark.parametrize("builder_name", ["build_shapes_cnn", "build_shapes_resnet"])
def test_builders_honour_num_classes_and_size(builder_name):
    from xai_widgets.zoo import models

    model = getattr(models, builder_name)(4, size=32)
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 4)
