"""Small seeded models for the LRP / DeepLIFT / guided backprop tests."""

import functools

import numpy as np

from xai_widgets._backend import keras, tf

layers = keras.layers

# keras.applications, built with weights=None at small input sizes (the slow tests)
APPLICATIONS = {"VGG16": 32, "ResNet50": 32, "MobileNetV2": 32, "DenseNet121": 32, "EfficientNetB0": 32}


def random_biases(model, seed=0, scale=0.1):
    """Give every Conv/Dense bias random values (Keras initialises them to zero)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(scale=scale, size=layer.bias.shape).astype("float32"))
    return model


def chain_cnn(bias=True, seed=0, shape=(10, 10, 3), classes=4):
    """Conv/MaxPool/Conv(stride 2)/AvgPool/Flatten/Dense: the layers the numpy reference knows."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    hidden = layers.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias)(inputs)
    hidden = layers.MaxPooling2D(2)(hidden)
    hidden = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", use_bias=bias)(hidden)
    hidden = layers.Conv2D(5, 1, activation="relu", use_bias=bias)(hidden)
    hidden = layers.AveragePooling2D(1)(hidden)
    hidden = layers.Flatten()(hidden)
    hidden = layers.Dense(8, activation="relu", use_bias=bias)(hidden)
    outputs = layers.Dense(classes, use_bias=bias)(hidden)
    model = keras.Model(inputs, outputs, name="chain_cnn")
    return random_biases(model, seed) if bias else model


def branchy_net(bias=False, seed=0, shape=(12, 12, 3), classes=5):
    """ReLU net with a Concatenate of two branches, an Add skip connection, max and global average pooling.

    Every convolution is followed by a ReLU and sees enough inputs that each active unit has both
    positive and negative contributions, the condition for z⁺ and α-β to conserve relevance exactly.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape)
    stem = layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=bias)(inputs)
    left = layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=bias)(stem)
    right = layers.Conv2D(8, 5, padding="same", activation="relu", use_bias=bias)(stem)
    merged = layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=bias)(layers.Concatenate()([left, right]))
    hidden = layers.ReLU()(layers.Add()([stem, merged]))
    hidden = layers.MaxPooling2D(2)(hidden)
    hidden = layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=bias)(hidden)
    hidden = layers.GlobalAveragePooling2D()(hidden)
    outputs = layers.Dense(classes, use_bias=bias)(hidden)
    model = keras.Model(inputs, outputs, name="branchy_net")
    return random_biases(model, seed) if bias else model


def everything_net(seed=0, shape=(16, 16, 3), classes=4):
    """Most supported layer types at once, with random BatchNorm statistics and biases.

    Rescaling and Normalization preprocessing, ZeroPadding, Conv + BatchNorm, a nested
    Sequential block (DepthwiseConv, BatchNorm, ReLU6), SeparableConv, a squeeze-excite
    Multiply gate, Concatenate, Add, LeakyReLU, Dropout, average and max pooling.
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    hidden = layers.Rescaling(2.0, offset=-1.0, name="rescaling")(inputs)
    normalization = layers.Normalization(mean=[0.1, -0.2, 0.0], variance=[0.5, 2.0, 1.0], name="normalization")
    hidden = layers.ZeroPadding2D(1, name="padding")(normalization(hidden))
    hidden = layers.Conv2D(8, 3, use_bias=False, name="stem_conv")(hidden)
    hidden = layers.Activation("relu", name="stem_relu")(layers.BatchNormalization(name="stem_bn")(hidden))
    block = keras.Sequential([
        keras.Input(hidden.shape[1:]),
        layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="depthwise"),
        layers.BatchNormalization(name="depthwise_bn"),
        layers.ReLU(6.0, name="relu6"),
        layers.Dropout(0.5, name="block_dropout"),
    ], name="nested_block")
    deep = block(hidden)
    deep = layers.SeparableConv2D(8, 3, padding="same", name="separable")(deep)
    deep = layers.BatchNormalization(name="separable_bn")(deep)
    squeeze = layers.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(deep)
    squeeze = layers.Conv2D(4, 1, activation="swish", name="se_reduce")(squeeze)
    gate = layers.Conv2D(8, 1, activation="sigmoid", name="se_expand")(squeeze)
    deep = layers.Multiply(name="se_gate")([deep, gate])
    hidden = layers.Add(name="skip_add")([hidden, deep])
    hidden = layers.LeakyReLU(0.1, name="leaky_relu")(hidden)
    pooled = [layers.MaxPooling2D(2, name="max_pool")(hidden), layers.AveragePooling2D(2, name="average_pool")(hidden)]
    hidden = layers.Concatenate(name="concat")(pooled)
    hidden = layers.BatchNormalization(name="concat_bn")(hidden)  # after a Concatenate: nothing to fold into
    hidden = layers.Conv2D(6, 3, strides=2, activation="elu", name="head_conv")(hidden)
    hidden = layers.Flatten(name="flatten")(hidden)
    outputs = layers.Dense(classes, name="logits")(layers.Dropout(0.2, name="dropout")(hidden))
    model = keras.Model(inputs, outputs, name="everything_net")
    randomise_batch_norms(model, rng)
    return random_biases(model, seed)


def randomise_batch_norms(model, rng, spread=0.2):
    for layer in _all_layers(model):
        if isinstance(layer, layers.BatchNormalization):
            size = layer.moving_mean.shape
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 1.5, size).astype("float32"))
            if layer.center:
                layer.beta.assign(rng.normal(scale=spread, size=size).astype("float32"))
            layer.moving_mean.assign(rng.normal(scale=spread, size=size).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5 if spread < 0.2 else 2.0, size).astype("float32"))


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def without_biases(model):
    """A copy of ``model`` with every bias, BatchNorm β and moving mean set to zero: a bias-free network."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in _all_layers(copy):
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
        if isinstance(layer, layers.BatchNormalization):
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, "float32"))
            if layer.center:
                layer.beta.assign(np.zeros(layer.beta.shape, "float32"))
    return copy


@functools.lru_cache(maxsize=None)
def application(name, statistics="random"):
    """A keras.applications model (weights=None, logits) with usable BatchNorm statistics.

    With random weights and the default statistics (mean 0, variance 1) the
    activations of the deeper networks shrink towards 1e-12. ``statistics``:

    - ``"random"``: random BatchNorm statistics and affine parameters (γ and
      variance in [0.5, 1.5], β and mean ~ N(0, 0.1)); activations stay of
      order one through the biases, and the network is well conditioned, but
      its output hardly depends on the input;
    - ``"calibrated"``: each BatchNormalization gets the mean and variance of
      its input over 16 random images (one pass in training mode), as after
      training; the output depends on the input;
    - ``"bias_free"``: as calibrated, but means (so every bias) stay zero and
      variances are second moments: a bias-free network.
    """
    size = APPLICATIONS[name]
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, classifier_activation=None,
                                              input_shape=(size, size, 3), classes=10)
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return model
    if statistics == "random":
        randomise_batch_norms(model, np.random.default_rng(0), spread=0.1)
        return model
    images = np.random.default_rng(2).uniform(0.0, 1.0, (16, size, size, 3)).astype("float32")
    probe = keras.Model(model.inputs[0], [layer.input for layer in norms])  # called on one tensor, not a list
    dropouts = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    rates = [layer.rate for layer in dropouts]
    for layer in dropouts:  # training mode for the statistics, but no dropout (EfficientNet's drop-connect)
        layer.rate = 0.0
    inputs_of_norms = probe(images, training=True)
    for layer, rate in zip(dropouts, rates):
        layer.rate = rate
    for layer, value in zip(norms, inputs_of_norms):
        mean, variance = tf.nn.moments(value, axes=[0, 1, 2])
        if statistics == "bias_free":
            mean, variance = tf.zeros_like(mean), variance + tf.square(mean)
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
    return model


def application_images(name, count=2):
    size = APPLICATIONS[name]
    return np.random.default_rng(1).uniform(0.0, 1.0, (count, size, size, 3)).astype("float32")
