"""Builders of the two bundled demo architectures for the shapes data set.

Both end in logits (a final `Dense` without activation), as the attribution
methods expect. `shapes_cnn` is a plain ReLU network, the easiest case for
LRP and DeepLIFT; `shapes_resnet` adds BatchNorm, residual `Add` and a
`Concatenate` of parallel branches, the graph features of real backbones.
"""

import keras
from keras import layers


def build_shapes_cnn(num_classes, size=64):
    """Build a small plain CNN: Conv2D (ReLU) and MaxPooling2D layers, then Dense.

    Three conv + 2x2 max-pool stages (16, 32, 64 filters), a fourth conv
    (64 filters), a max-pool over all remaining positions, Flatten, a ReLU
    Dense layer of 64 units and the logits.

    Args:
        num_classes: number of output logits.
        size: input height and width (RGB input of shape `(size, size, 3)`).

    Returns:
        An uncompiled functional `keras.Model` named `"shapes_cnn"` whose
        output is the logits, shape `(batch, num_classes)`.

    Example:

    >>> model = build_shapes_cnn(6)
    >>> model.output_shape
    (None, 6)
    """
    inputs = keras.Input((size, size, 3), name="image")
    features = inputs
    for stage, filters in enumerate((16, 32, 64), start=1):
        features = _relu_conv(features, filters, name=f"conv{stage}")
        features = layers.MaxPooling2D(2, name=f"pool{stage}")(features)
    features = _relu_conv(features, 64, name="conv4")
    # Max over all positions: the class object may be anywhere in the image.
    features = layers.MaxPooling2D(features.shape[1:3], name="global_max_pool")(features)
    features = layers.Flatten(name="flatten")(features)
    features = layers.Dense(64, activation="relu", kernel_initializer="he_normal", name="dense")(features)
    logits = layers.Dense(num_classes, name="logits")(features)
    return keras.Model(inputs, logits, name="shapes_cnn")


def _relu_conv(features, filters, name):
    return layers.Conv2D(
        filters, 3, padding="same", activation="relu", kernel_initializer="he_normal", name=name
    )(features)


def build_shapes_resnet(num_classes, size=64):
    """Build a small residual network with BatchNorm, skip connections and a concatenation.

    Layout: a strided stem convolution; a residual block; a downsampling step
    that concatenates a 3x3 and a 5x5 strided branch; a second residual block;
    a strided convolution; a third residual block; global average pooling and
    the logits.

    Args:
        num_classes: number of output logits.
        size: input height and width (RGB input of shape `(size, size, 3)`).

    Returns:
        An uncompiled functional `keras.Model` named `"shapes_resnet"` whose
        output is the logits, shape `(batch, num_classes)`.

    Example:

    >>> model = build_shapes_resnet(6)
    >>> model.output_shape
    (None, 6)
    """
    inputs = keras.Input((size, size, 3), name="image")
    features = _conv_bn_relu(inputs, 16, 3, strides=2, name="stem")
    features = _residual_block(features, name="block1")
    features = _two_branch_downsample(features, filters_per_branch=16, name="down1")
    features = _residual_block(features, name="block2")
    features = _conv_bn_relu(features, 64, 3, strides=2, name="down2")
    features = _residual_block(features, name="block3")
    features = layers.GlobalAveragePooling2D(name="global_pool")(features)
    logits = layers.Dense(num_classes, name="logits")(features)
    return keras.Model(inputs, logits, name="shapes_resnet")


def _conv_bn(features, filters, kernel_size, strides=1, name=""):
    features = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(features)
    return layers.BatchNormalization(name=f"{name}_bn")(features)


def _conv_bn_relu(features, filters, kernel_size, strides=1, name=""):
    features = _conv_bn(features, filters, kernel_size, strides, name)
    return layers.ReLU(name=f"{name}_relu")(features)


def _residual_block(features, name):
    """Two 3x3 conv-BN layers whose output is added to the block input, then ReLU."""
    filters = features.shape[-1]
    residual = _conv_bn_relu(features, filters, 3, name=f"{name}_a")
    residual = _conv_bn(residual, filters, 3, name=f"{name}_b")
    features = layers.Add(name=f"{name}_add")([features, residual])
    return layers.ReLU(name=f"{name}_out")(features)


def _two_branch_downsample(features, filters_per_branch, name):
    """Halve the resolution with a 3x3 and a 5x5 strided branch, concatenated along channels."""
    small = _conv_bn_relu(features, filters_per_branch, 3, strides=2, name=f"{name}_3x3")
    large = _conv_bn_relu(features, filters_per_branch, 5, strides=2, name=f"{name}_5x5")
    return layers.Concatenate(name=f"{name}_concat")([small, large])
