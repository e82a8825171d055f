"""Small networks with hand-computable Summit counts, shared by the Summit tests."""

import numpy as np

from xai_widgets._backend import keras

# 1×1 convolutions without bias: every activation is a small integer, so all
# sums are exact in float32 and the expected counts can be worked out by hand.
#   A = relu(x @ W_A):  A0 = relu(x0), A1 = relu(x1), A2 = relu(x0 + x1)
#   B = relu(A @ W_B):  B0 = relu(A0 + A2), B1 = relu(2·A1 − A2)
W_A = np.array([[1, 0, 1], [0, 1, 1]], np.float32)
W_B = np.array([[1, 0], [0, 2], [1, -1]], np.float32)

# Two 2×2 images with two input channels; pixel (row, column) -> (x0, x1).
IMAGE_ONE = np.array([[[2, 0], [0, 1]], [[1, 1], [0, 0]]], np.float32)   # class 0
IMAGE_TWO = np.array([[[0, 3], [1, 0]], [[0, 0], [0, 0]]], np.float32)   # class 1
IMAGES = np.stack([IMAGE_ONE, IMAGE_TWO])
LABELS = np.array([0, 1])


def hand_network():
    """x (2×2×2) → A: 1×1 conv, 3 channels, ReLU → B: 1×1 conv, 2 channels, ReLU → GAP → 2 logits."""
    inputs = keras.Input((2, 2, 2))
    a = keras.layers.Conv2D(3, 1, activation="relu", use_bias=False, name="a")(inputs)
    b = keras.layers.Conv2D(2, 1, activation="relu", use_bias=False, name="b")(a)
    pooled = keras.layers.GlobalAveragePooling2D()(b)
    logits = keras.layers.Dense(2, name="logits")(pooled)
    model = keras.Model(inputs, logits, name="hand")
    model.get_layer("a").set_weights([W_A.reshape(1, 1, 2, 3)])
    model.get_layer("b").set_weights([W_B.reshape(1, 1, 3, 2)])
    model.get_layer("logits").set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


def small_cnn(classes=3, seed=0, shape=(16, 16, 3)):
    """Conv/ReLU/MaxPool/Conv/ReLU/Conv/ReLU/GAP/Dense with seeded weights (every pair joined by one Conv2D)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    hidden = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    hidden = keras.layers.MaxPooling2D(2, name="p1")(hidden)
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(hidden)
    hidden = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c3")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(classes)(pooled), name="small_cnn")


def residual_cnn(classes=3, seed=0, shape=(16, 16, 3)):
    """Two stages with a BatchNorm residual block between them (pairs joined by blocks, not one conv)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    stem = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="stem")(inputs)
    branch = keras.layers.Conv2D(6, 3, padding="same", name="r_a")(stem)
    branch = keras.layers.BatchNormalization(name="r_bn")(branch)
    branch = keras.layers.ReLU(name="r_relu")(branch)
    branch = keras.layers.Conv2D(6, 3, padding="same", name="r_b")(branch)
    merged = keras.layers.ReLU(name="block")(keras.layers.Add(name="add")([stem, branch]))
    down = keras.layers.Conv2D(10, 3, strides=2, padding="same", activation="relu", name="down")(merged)
    pooled = keras.layers.GlobalAveragePooling2D()(down)
    return keras.Model(inputs, keras.layers.Dense(classes)(pooled), name="residual_cnn")


def random_data(count, classes=3, seed=0, shape=(16, 16, 3)):
    rng = np.random.default_rng(seed)
    return rng.random((count, *shape), dtype=np.float32), rng.integers(0, classes, count)
