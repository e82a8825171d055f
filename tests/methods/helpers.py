"""Small models with known answers, shared by the method tests."""

import numpy as np

from xai_widgets._backend import keras


def linear_model(shape=(6, 5, 3), classes=4, seed=0, bias=True):
    """F(x) = W·vec(x) + b: every gradient method has an exact answer on it."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    dense = keras.layers.Dense(classes, use_bias=bias)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    weights = [rng.normal(size=(int(np.prod(shape)), classes)).astype("float32")]
    if bias:
        weights.append(rng.normal(size=classes).astype("float32"))
    dense.set_weights(weights)
    return model, weights[0].reshape(*shape, classes)


def small_cnn(shape=(8, 8, 3), classes=5, seed=0, bias=True):
    """A small Conv/ReLU/MaxPool/Dense network with seeded weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias)(inputs)
    hidden = keras.layers.MaxPooling2D(2)(hidden)
    hidden = keras.layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=bias)(hidden)
    hidden = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(classes, use_bias=bias)(hidden)
    return keras.Model(inputs, outputs)


def reference_gradient(model, image, target):
    """∂F_target/∂x for one image with a plain eager GradientTape (the independent reference)."""
    import tensorflow as tf

    x = tf.constant(image[np.newaxis], dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model(x, training=False)[0, target]
    return tape.gradient(score, x).numpy()[0], float(score)


def assert_close(actual, expected, rel=1e-5):
    """max |actual − expected| ≤ rel · max |expected| (relative to the map's scale, not per element)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error, scale = np.max(np.abs(actual - expected)), np.max(np.abs(expected))
    assert error <= rel * scale, f"max error {error:.3g} > {rel:g} × max |expected| {scale:.3g}"
