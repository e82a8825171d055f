"""The model wrapper: input checks, targets, softmax handling, compiled gradients."""

import threading

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import keras
from xai_widgets.model import AffineRows, ChunkSizer, TargetModel, as_target_model

from .helpers import linear_model, reference_gradient


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).uniform(size=(5, 8, 8, 3)).astype("float32")


def test_gradients_match_an_eager_tape_per_image(cnn, images):
    wrapped = TargetModel(cnn)
    targets = np.array([0, 1, 2, 3, 4])
    for start, stop, grads, outputs in wrapped.gradients(images, targets, batch_size=2):
        for row in range(start, stop):
            expected, score = reference_gradient(cnn, images[row], targets[row])
            np.testing.assert_allclose(grads[row - start], expected, rtol=1e-5, atol=1e-6)
            assert outputs[row - start] == pytest.approx(score, rel=1e-5, abs=1e-6)


def test_affine_rows_are_built_in_the_compiled_pass_one_chunk_ahead(cnn, images):
    """Rows bases[a] + scale · directions[b]; chunk k+1's parts exist before chunk k is handed out."""
    wrapped, asked = TargetModel(cnn), []
    directions = np.random.default_rng(2).normal(size=(2, *images.shape[1:])).astype("float32")
    scales = np.array([0.5, -1.0, 0.0, 2.0, 0.25], np.float32)

    def parts(start, stop):
        asked.append(start)
        rows = np.arange(start, stop)
        return images, directions, rows.astype(np.int32), (rows % 2).astype(np.int32), scales[start:stop]

    targets = np.array([4, 3, 2, 1, 0])
    rows = AffineRows(5, images.shape[1:], parts)
    for start, stop, grads, outputs in wrapped.gradients(rows, targets, batch_size=2):
        for row in range(start, stop):
            point = images[row] + scales[row] * directions[row % 2]
            expected, score = reference_gradient(cnn, point, targets[row])
            np.testing.assert_allclose(grads[row - start], expected, rtol=1e-5, atol=1e-6)
            assert outputs[row - start] == pytest.approx(score, rel=1e-5, abs=1e-6)
        assert asked == [0, 2, 4][:min(start // 2 + 2, 3)]  # the next chunk's parts came first
    assert wrapped.traces == 1


def test_stopping_early_leaves_no_gradient_thread_running(cnn, images):
    chunks = TargetModel(cnn).gradients(images, np.zeros(5, int), batch_size=1)
    next(chunks)
    chunks.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("xai-widgets-gradients")]


def test_changing_batch_and_chunk_sizes_never_retraces(cnn, images):
    wrapped = TargetModel(cnn)
    for count, size in [(1, None), (5, 2), (3, 3), (5, None)]:
        list(wrapped.gradients(images[:count], np.zeros(count, int), batch_size=size))
    assert wrapped.traces == 1


def test_wrappers_are_cached_per_model_and_output_mode(cnn):
    assert as_target_model(cnn) is as_target_model(cnn)
    assert as_target_model(cnn) is not as_target_model(cnn, output="logits")


def test_one_image_and_batches_are_accepted_in_any_real_dtype(cnn, images):
    wrapped = TargetModel(cnn)
    batch, single = wrapped.prepare_inputs((images * 255).astype("uint8"))
    assert batch.dtype == np.float32 and batch.shape == (5, 8, 8, 3) and not single
    batch, single = wrapped.prepare_inputs(images[0].astype("float64"))
    assert batch.shape == (1, 8, 8, 3) and single


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((8, 8)), "one image"),
        (np.zeros((0, 8, 8, 3)), "empty batch"),
        (np.zeros((2, 8, 8, 1)), "1 channels but the model"),
        (np.zeros((2, 9, 8, 3)), "resize"),
        (np.full((2, 8, 8, 3), np.nan), "NaN or Inf"),
        (np.array([[["a"]]]), "real numbers"),
        (np.zeros((1, 8, 8, 3), dtype=bool), "real numbers"),
    ],
)
def test_bad_inputs_raise_a_clear_error(cnn, bad, message):
    with pytest.raises(ValueError, match=message):
        TargetModel(cnn).prepare_inputs(bad)


def test_infinite_values_name_the_image(cnn, images):
    bad = images.copy()
    bad[3, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"image\(s\) \[3\]"):
        TargetModel(cnn).prepare_inputs(bad)


def test_targets_default_to_the_arg_max_class(cnn, images):
    wrapped = TargetModel(cnn)
    expected = np.argmax(cnn(images).numpy(), axis=1)
    np.testing.assert_array_equal(wrapped.select_targets(images, None), expected)
    np.testing.assert_array_equal(wrapped.select_targets(images, 2), [2] * 5)
    np.testing.assert_array_equal(wrapped.select_targets(images, [0, 1, 2, 3, 4]), range(5))


@pytest.mark.parametrize(
    "target, message",
    [(5, "out of range: the model has 5 classes"), (-1, "out of range"), ([1, 2], "one class per image"),
     (1.5, "must be an int"), (True, "must be an int")],
)
def test_bad_targets_raise_a_clear_error(cnn, images, target, message):
    with pytest.raises(ValueError, match=message):
        TargetModel(cnn).select_targets(images, target)


def test_batch_size_must_be_positive(cnn, images):
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            xw.saliency(cnn, images, batch_size=bad)


def _softmax_models():
    inputs = keras.Input((4, 4, 3))
    flat = keras.layers.Flatten()(inputs)
    dense_softmax = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(flat))
    layer_softmax = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(3)(flat)))
    activation = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(3),
                                   keras.layers.Activation("softmax")])
    return [dense_softmax, layer_softmax, activation]


@pytest.mark.parametrize("model", _softmax_models(), ids=["dense", "softmax_layer", "activation_layer"])
def test_a_final_softmax_is_refused_with_the_fix_and_stripped_on_request(model):
    with pytest.raises(ValueError, match="classifier_activation=None.*output='logits'"):
        TargetModel(model)
    stripped = TargetModel(model, output="logits")
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 3)).astype("float32")
    logits = stripped.logits(x)
    probabilities = model(x).numpy()
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted / shifted.sum(axis=1, keepdims=True), probabilities, rtol=1e-5, atol=1e-6)


def test_callables_returning_logits_are_accepted():
    model, weights = linear_model()
    x = np.random.default_rng(0).uniform(size=(3, 6, 5, 3)).astype("float32")
    a = xw.saliency(lambda inputs: model(inputs), x, target=1)
    np.testing.assert_allclose(a.values, np.broadcast_to(weights[..., 1], x.shape), rtol=1e-6)


def settle(sizer, cost, disturbance=lambda size, asked: 1.0):
    """Feed ``sizer`` chunk times ``cost[size] · size · disturbance`` until it settles; return the sizes asked."""
    asked = []
    while not sizer.settled:
        size = sizer.next_size()
        asked.append(size)
        sizer.record(size, cost[size] * size * disturbance(size, asked))
    return asked


def test_chunk_sizer_grows_while_time_per_input_falls_and_settles_on_the_best():
    sizer = ChunkSizer(floats_per_input=100)
    settle(sizer, {8: 1.0, 16: 0.8, 32: 0.7, 64: 0.9, 48: 0.75, 24: 0.76})  # seconds per input
    assert sizer.next_size() == 32


def test_chunk_sizer_bounds_chunks_by_memory():
    assert ChunkSizer(floats_per_input=224 * 224 * 3).limit <= 112


def test_chunk_sizer_halves_when_doubling_does_not_help():
    sizer = ChunkSizer(floats_per_input=100)
    asked = settle(sizer, {8: 1.0, 16: 1.3, 4: 0.9, 2: 0.95, 6: 0.92, 3: 0.93})  # large networks on 2 cores
    assert sizer.next_size() == 4 and set(asked) == {8, 16, 4, 2, 6, 3}


def test_chunk_sizer_tries_the_sizes_halfway_to_its_neighbours():
    sizer = ChunkSizer(floats_per_input=100)
    settle(sizer, {8: 1.0, 16: 0.8, 32: 0.7, 64: 0.9, 48: 0.6, 24: 0.8})
    assert sizer.next_size() == 48


def test_chunk_sizer_is_not_misled_by_one_slow_run():
    sizer = ChunkSizer(floats_per_input=100)
    cost = {8: 1.0, 16: 0.8, 32: 0.9, 24: 0.85, 12: 0.9}
    # another process takes the CPU once, during the second timed run of 16
    settle(sizer, cost, lambda size, asked: 3.0 if size == 16 and asked.count(16) == 2 else 1.0)
    assert sizer.next_size() == 16


def test_chunk_sizer_keeps_growing_through_small_gains_as_on_mobilenet_v2():
    """Per-input times shaped like MobileNetV2's on 2 cores: each doubling gains only 3–5 %, 48 is best."""
    sizer = ChunkSizer(floats_per_input=224 * 224 * 3)
    settle(sizer, {8: 23.4, 16: 21.7, 32: 20.7, 64: 20.1, 96: 20.6, 48: 19.9, 24: 21.0})  # ms per input
    assert sizer.next_size() == 48


def test_chunk_sizer_compares_each_candidate_with_the_best_in_alternation():
    """Load that doubles every time from the 7th chunk on must not make the later, larger size look slow."""
    sizer = ChunkSizer(floats_per_input=100)
    cost = {8: 1.0, 16: 0.8, 32: 0.9, 24: 0.85, 12: 0.9}
    asked = settle(sizer, cost, lambda size, asked: 2.0 if len(asked) > 6 else 1.0)
    assert sizer.next_size() == 16
    assert asked[:8] == [8, 16, 16, 8, 16, 8, 16, 8]  # first runs dropped, then alternating


def test_chunk_sizer_for_huge_inputs_only_tries_smaller_chunks():
    sizer = ChunkSizer(floats_per_input=2048 * 2048 * 3)  # the memory bound allows 1 per chunk
    assert sizer.limit == 1 and sizer.settled and sizer.next_size() == 1
    sizer = ChunkSizer(floats_per_input=1024 * 1024 * 3)  # at most 5 per chunk
    asked = settle(sizer, {5: 1.0, 2: 0.9, 1: 1.0, 3: 0.95})
    assert max(asked) <= sizer.limit == 5 and sizer.next_size() == 2


class SubclassedNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(3)

    def call(self, inputs):
        return self.dense(self.flatten(inputs))


def test_subclassed_models_work_as_callables_for_gradient_methods():
    model = SubclassedNet()
    x = np.random.default_rng(0).uniform(size=(2, 4, 4, 3)).astype("float32")
    model(x)
    a = xw.saliency(model, x, target=1)
    expected = model.dense.kernel.numpy()[:, 1].reshape(4, 4, 3)
    np.testing.assert_allclose(a.values, np.broadcast_to(expected, x.shape), rtol=1e-5)
    assert TargetModel(model).keras_model is None
