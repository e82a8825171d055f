"""Influence into every next-layer channel equals activation × gradient computed channel by channel.

The reference is the definition itself, I[n, j, i] = Σ_{u,v} A[n,u,v,i] ·
∂M[n, j]/∂A[n,u,v,i] with M_j the spatial maximum of the next layer's
channel j: one `tf.GradientTape` gradient per next channel j, eagerly,
through the whole model. The probe computes it without any per-channel pass
where one convolution joins the layers and with one forward-mode pass per
previous channel across blocks; both must agree with the reference to
float32 precision: |I − I_reference| ≤ 1e-4 · max |I_reference| per pair.
"""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras, tf
from xai_widgets.summit import SummitProbe, default_layers, resolve_layers, single_convolution
from xai_widgets.summit import influence as influence_module
from xai_widgets.summit.influence import following_activations, maxima_gradient

from .helpers import W_A, W_B, random_data, residual_cnn, small_cnn

RELATIVE = 1e-4


def reference_influences(keras_model, previous, following, images):
    """``(N, C_next, C_previous)``: one eager gradient of each next channel's maxima per channel."""
    features = keras.Model(keras_model.input, [keras_model.get_layer(previous).output,
                                                keras_model.get_layer(following).output])
    images = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        activations, next_activations = features(images, training=False)
        maxima = tf.reduce_max(next_activations, axis=(1, 2))
        channels = [maxima[:, channel] for channel in range(maxima.shape[-1])]
    rows = [tf.reduce_sum(tape.gradient(channel, activations) * activations, axis=(1, 2)) for channel in channels]
    return np.stack([row.numpy() for row in rows], axis=1)


def probe_influences(keras_model, layers, images, into="all", mass=0.5, top_channels=8):
    chosen = resolve_layers(keras_model, layers)
    probe = SummitProbe(keras_model, chosen, "gradient", into, mass, top_channels, top_k=5)
    return probe, probe.measure(tf.constant(images))


def assert_exact(keras_model, layers, images):
    probe, measured = probe_influences(keras_model, layers, images)
    chosen = [layer.name for layer in probe.layers]
    for pair, values in enumerate(measured["influences"]):
        reference = reference_influences(keras_model, chosen[pair], chosen[pair + 1], images)
        assert np.abs(reference).max() > 0, (chosen[pair], chosen[pair + 1])
        np.testing.assert_allclose(values.numpy(), reference, rtol=0, atol=RELATIVE * np.abs(reference).max(),
                                   err_msg=f"{chosen[pair]} -> {chosen[pair + 1]}")
    return probe


def randomise_batch_norms(keras_model, seed=0):
    """Moving statistics and affine parameters far from the identity, so BatchNorm is no homogeneous layer."""
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2.0, variance.shape)])
    return keras_model


def channelwise_chains_cnn(seed=0):
    """Pairs joined by one convolution with non-homogeneous layers before it and pooling after it.

    In "a" -> "b" and "c" -> "d" each channel's maximum reaches the
    convolution's output at one position (max-pooling routes it); in
    "b" -> "c" the average pooling spreads it over four. "d" is a dilated
    convolution whose padding reaches far into its 4 × 8 input.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(5, 3, padding="same", name="a")(inputs)
    hidden = keras.layers.BatchNormalization(name="a_bn")(a)
    hidden = keras.layers.ELU(name="a_elu")(hidden)
    hidden = keras.layers.ZeroPadding2D(((1, 0), (2, 1)), name="a_pad")(hidden)
    hidden = keras.layers.Conv2D(7, 3, strides=(2, 1), padding="valid", activation="tanh", name="b_conv")(hidden)
    hidden = keras.layers.BatchNormalization(name="b_bn")(hidden)
    b = keras.layers.MaxPooling2D(2, name="b")(hidden)
    hidden = keras.layers.AveragePooling2D(1, name="b_avg")(b)
    hidden = keras.layers.Conv2D(6, 3, dilation_rate=2, padding="same", name="c_conv")(hidden)
    hidden = keras.layers.AveragePooling2D(2, strides=1, padding="same", name="c_avg")(hidden)
    c = keras.layers.LeakyReLU(negative_slope=0.2, name="c")(hidden)
    d = keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu", name="d")(c)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(d))
    return randomise_batch_norms(keras.Model(inputs, logits, name="chains"), seed)


def concatenating_cnn(seed=0):
    """Two branches concatenated between the chosen layers (joined by a block, not one convolution)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    left = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="left")(a)
    right = keras.layers.Conv2D(5, 1, activation="relu", name="right")(a)
    b = keras.layers.Concatenate(name="b")([left, right])
    logits = keras.layers.Dense(3)(keras.layers.GlobalMaxPooling2D()(b))
    return keras.Model(inputs, logits, name="concatenating")


def test_pairs_joined_by_one_convolution_give_the_reference_influence():
    model = small_cnn()
    probe = assert_exact(model, ["c1", "c2", "c3"], random_data(3)[0])  # max-pooling before c2, stride 2 in c3
    assert all(path is not None and path.homogeneous_before for path in probe.paths)


def test_channelwise_layers_around_the_convolution_give_the_reference_influence():
    # BatchNorm and ELU before the convolution (forward-mode derivative), padding, unequal strides,
    # tanh, BatchNorm and max-pooling after it; dilation, average pooling and LeakyReLU in the second
    # pair; dilation and "same" padding in the third
    model = channelwise_chains_cnn()
    images = random_data(3, shape=(16, 16, 3))[0]
    probe = assert_exact(model, ["a", "b", "c", "d"], images)
    assert [path.homogeneous_before for path in probe.paths] == [False, True, True]
    positions = [np.count_nonzero(convolution_gradient(model, path, images), axis=(1, 2)).max()
                 for path in probe.paths]
    assert positions == [1, 4, 1]  # both ways of contracting with the kernel are checked


def convolution_gradient(model, path, images):
    convolution = path.convolution
    inputs, outputs = keras.Model(model.input, [convolution.input, convolution.output])(images, training=False)
    return maxima_gradient(inputs, outputs, path).numpy()


def test_pairs_joined_by_blocks_give_the_reference_influence():
    images = random_data(3)[0]
    model = randomise_batch_norms(residual_cnn())
    probe = assert_exact(model, ["stem", "block", "down"], images)  # residual addition, BatchNorm inside
    assert probe.paths[0] is None and probe.paths[1] is not None
    # the skip connection from "stem" bypasses "r_relu": it enters the block as a constant
    probe = assert_exact(model, ["r_relu", "block"], images)
    assert [tensor.name for tensor in probe.features.outputs[2:]] == [model.get_layer("stem").output.name]
    assert_exact(concatenating_cnn(), ["a", "b"], random_data(3, shape=(12, 12, 3))[0])


@pytest.mark.parametrize("channels_per_group", [1, 4])
def test_blocks_passed_in_several_channel_groups_give_the_reference_influence(monkeypatch, channels_per_group):
    """The forward-mode passes run in a loop over groups of channels; the last group may be short."""
    model = randomise_batch_norms(residual_cnn())
    block = SummitProbe(model, resolve_layers(model, ["stem", "block"]), "gradient", "all", 0.5, 8, 5).blocks[0]
    floats = influence_module._floats_per_tangent(block)
    monkeypatch.setattr(influence_module, "TANGENT_FLOATS_PER_IMAGE", channels_per_group * floats)
    previous_channels = model.get_layer("stem").output.shape[-1]
    assert previous_channels % channels_per_group or channels_per_group == 1  # 6 channels: groups 4 + 2
    assert_exact(model, ["stem", "block"], random_data(3)[0])


def test_the_blocks_forward_mode_pass_is_traced_once_however_many_channel_groups(monkeypatch):
    """A loop over groups in Python would put one copy of the block's tangent pass in the graph per group."""
    model = randomise_batch_norms(residual_cnn())
    block = SummitProbe(model, resolve_layers(model, ["stem", "block"]), "gradient", "all", 0.5, 8, 5).blocks[0]
    previous = tf.constant(keras.Model(model.input, model.get_layer("stem").output)(random_data(2)[0]))
    floats = influence_module._floats_per_tangent(block)
    sizes = {}
    for channels_per_group in (2, 3):  # 3 and 2 groups of the 6 channels
        monkeypatch.setattr(influence_module, "TANGENT_FLOATS_PER_IMAGE", channels_per_group * floats)
        graph = tf.function(lambda a: influence_module.block_influence(a, [], block)).get_concrete_function(previous)
        sizes[channels_per_group] = len(graph.graph.as_graph_def().library.function) + len(graph.graph.get_operations())
    assert sizes[2] == sizes[3]


def test_maxima_tied_at_several_positions_split_the_gradient_as_the_reference_does():
    # flat images give equal activations away from the border, so maxima tie; the black image leaves
    # channels at zero everywhere
    images = np.stack([np.full((16, 16, 3), 0.5, np.float32), np.zeros((16, 16, 3), np.float32),
                       random_data(1)[0][0]])
    model = small_cnn()
    activations = keras.Model(model.input, model.get_layer("c2").output)(images).numpy()
    maxima = activations.max(axis=(1, 2), keepdims=True)
    assert ((activations == maxima).sum(axis=(1, 2)) > 1).any()
    assert_exact(model, ["c1", "c2", "c3"], images)


@pytest.mark.parametrize("activation", ["relu", None])
def test_maxima_tied_where_the_inputs_differ_split_the_gradient_as_the_reference_does(activation):
    # hand_network's weights: B0 = A0 + A2 is 2 at (0, 0), where A = (1, 0, 1), and at (0, 1), where
    # A = (0, 2, 2); the gradient splits in halves, so I[B0] = (1, 0, 1)/2 + (0, 0, 2)/2
    inputs = keras.Input((2, 2, 2))
    a = keras.layers.Conv2D(3, 1, activation="relu", use_bias=False, name="a")(inputs)
    b = keras.layers.Conv2D(2, 1, activation=activation, use_bias=False, name="b")(a)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalMaxPooling2D()(b)))
    model.get_layer("a").set_weights([W_A.reshape(1, 1, 2, 3)])
    model.get_layer("b").set_weights([W_B.reshape(1, 1, 3, 2)])
    image = np.array([[[[1, 0], [0, 2]], [[0, 0], [0, 0]]]], np.float32)
    probe = assert_exact(model, ["a", "b"], image)
    measured = probe.measure(tf.constant(image))
    np.testing.assert_allclose(measured["influences"][0].numpy()[0, 0], [0.5, 0, 1.5], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet"])
def test_the_default_layers_of_the_bundled_models_give_the_reference_influence(name):
    model = xw.zoo.load(name)
    images, _, _ = xw.zoo.shapes(3, seed=4)
    assert_exact(model, [layer.name for layer in default_layers(model)], images)


def test_the_recomputed_following_layer_equals_the_models():
    model = channelwise_chains_cnn()
    images = tf.constant(random_data(2, shape=(16, 16, 3))[0])
    for previous, following in [("a", "b"), ("b", "c")]:
        path = single_convolution(model.get_layer(previous), model.get_layer(following))
        features = keras.Model(model.input, [path.convolution.input, model.get_layer(following).output])
        inputs, expected = features(images, training=False)
        convolved = path.convolution.convolution_op(inputs, path.convolution.kernel)
        np.testing.assert_allclose(following_activations(convolved, path).numpy(), expected.numpy(),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("build, layers", [(small_cnn, ["c1", "c2", "c3"]), (residual_cnn, ["stem", "block"])],
                         ids=["single_convolutions", "residual"])
def test_influences_into_kept_channels_are_the_rows_of_all_influences(build, layers):
    model = build()
    images = random_data(4)[0]
    _, every = probe_influences(model, layers, images, into="all")
    _, kept = probe_influences(model, layers, images, into="kept")
    for pair, (all_rows, kept_rows) in enumerate(zip(every["influences"], kept["influences"])):
        channels = kept["kept"][pair + 1].numpy()
        expected = np.take_along_axis(all_rows.numpy(), np.maximum(channels, 0)[..., np.newaxis], axis=1)
        expected[channels < 0] = 0
        scale = np.abs(expected).max()
        assert scale > 0 and (channels >= 0).any()
        np.testing.assert_allclose(kept_rows.numpy(), expected, rtol=0, atol=RELATIVE * scale)
