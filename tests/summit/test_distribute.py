"""Data-set computations on tf.distribute strategies equal the single-device results exactly."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets._backend import tf
from xai_widgets.distribute import ReplicaRunner, units_of

from .helpers import random_data, small_cnn

REPOSITORY = Path(__file__).resolve().parents[2]

# Logical devices must be configured before TensorFlow initialises its devices,
# which importing xai_widgets in this test process has already done: a subprocess.
MIRRORED_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import xai_widgets as xw
    from tests.summit.helpers import random_data, residual_cnn, small_cnn

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {"replicas": mirrored.num_replicas_in_sync}
    images, labels = random_data(37)

    def same_summary(first, second):
        checks = [np.array_equal(a, b) for a, b in zip(first.activations, second.activations)]
        checks += [np.array_equal(a.keys, b.keys) and np.array_equal(a.counts, b.counts)
                   for a, b in zip(first.influences, second.influences)]
        checks += [all(np.array_equal(x, y) for x, y in zip(a._arrays(), b._arrays()))
                   for a, b in zip(first.examples, second.examples)]
        return all(checks) and first.images == second.images

    for name, build, influence, into in [("residual_gradient", residual_cnn, "gradient", "all"),
                                         ("residual_gradient_kept", residual_cnn, "gradient", "kept"),
                                         ("single_gradient", small_cnn, "gradient", "all"),
                                         ("single_summit", small_cnn, "summit", "all")]:
        model = build()
        options = dict(batch_size=8, influence=influence, into=into, progress=False)
        single = xw.summarize(model, (images, labels), **options)
        both = xw.summarize(model, (images, labels), strategy=mirrored, **options)
        report[name] = same_summary(single, both)
        report[name + "_edges"] = int(sum(len(influence.keys) for influence in single.influences))

    model = residual_cnn()
    for name, explainer in [("saliency", xw.Saliency(model, batch_size=4)),
                            ("integrated_gradients", xw.IntegratedGradients(model, steps=8, batch_size=16))]:
        single = list(xw.attribute_dataset(explainer, (images, labels), batch_size=8))
        both = list(xw.attribute_dataset(explainer, (images, labels), strategy=mirrored, batch_size=8))
        report[name] = {
            field: bool(np.array_equal(np.concatenate([getattr(a, field) for a in single]),
                                       np.concatenate([getattr(a, field) for a in both])))
            for field in ("values", "target", "outputs")
        }
        report[name + "_batches"] = [len(single), len(both)]
    print("REPORT" + json.dumps(report))
""")


@pytest.fixture(scope="module")
def mirrored_report(scratch_dir):
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], cwd=REPOSITORY, env=environment,
                            capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT"):])


@pytest.mark.slow
def test_summaries_on_two_mirrored_cpu_devices_equal_the_single_device_summary(mirrored_report):
    assert mirrored_report["replicas"] == 2
    runs = ("residual_gradient", "residual_gradient_kept", "single_gradient", "single_summit")
    assert all(mirrored_report[name] for name in runs)
    assert all(mirrored_report[name + "_edges"] > 0 for name in runs)


@pytest.mark.slow
def test_attributions_on_two_mirrored_cpu_devices_equal_the_single_device_attributions(mirrored_report):
    for method in ("saliency", "integrated_gradients"):
        assert mirrored_report[method] == {"values": True, "target": True, "outputs": True}
    # 37 images in units of 8: five rounds on one device, three on two
    assert mirrored_report["saliency_batches"] == [5, 3]


def test_attribute_dataset_yields_the_explainer_result_batch_by_batch():
    model = small_cnn()
    images, labels = random_data(11)
    explainer = xw.IntegratedGradients(model, steps=6, batch_size=8)
    parts = list(xw.attribute_dataset(explainer, (images, labels), batch_size=4))
    assert [part.info["start"] for part in parts] == [0, 4, 8]
    direct = np.concatenate([explainer(images[start:start + 4], labels[start:start + 4]).values
                             for start in (0, 4, 8)])
    # the last batch (3 images) runs padded to the unit of 4; CPU kernels round a batch of 4
    # differently from a batch of 3 (by ~1e-10), so equality here is to float32 precision
    np.testing.assert_allclose(np.concatenate([part.values for part in parts]), direct, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(np.concatenate([part.target for part in parts]), labels)
    assert all(part.method == "integrated_gradients" and part.delta is not None for part in parts)


def test_attribute_dataset_without_labels_explains_the_arg_max_class():
    model = small_cnn()
    images, _ = random_data(6)
    predicted = np.argmax(model.predict(images, verbose=0), axis=1)
    parts = list(xw.attribute_dataset(xw.Saliency(model), tf.data.Dataset.from_tensor_slices(images), batch_size=4))
    np.testing.assert_array_equal(np.concatenate([part.target for part in parts]), predicted)


def test_a_one_device_strategy_gives_the_default_result():
    model = small_cnn()
    data = random_data(9)
    explainer = xw.Saliency(model, batch_size=3)
    default = np.concatenate([part.values for part in xw.attribute_dataset(explainer, data, batch_size=3)])
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    on_device = np.concatenate([part.values for part in xw.attribute_dataset(explainer, data, strategy, 3)])
    np.testing.assert_array_equal(on_device, default)


def test_units_have_equal_length_and_padding_repeats_the_last_row():
    units = units_of(np.arange(5), per_replica=2, replicas=4)
    assert [unit.tolist() for unit in units] == [[0, 1], [2, 3], [4, 4], [4, 4]]


def test_the_runner_returns_rows_in_order_and_drops_the_padding():
    runner = ReplicaRunner(per_replica=3, compile=True)
    rows = runner.run(lambda values: {"double": 2 * values}, np.arange(7, dtype=np.float32))
    np.testing.assert_array_equal(rows["double"], 2 * np.arange(7))


def test_bad_arguments_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="tf.distribute.Strategy"):
        ReplicaRunner("mirrored")
    with pytest.raises(ValueError, match="attribution method object"):
        list(xw.attribute_dataset(small_cnn(), random_data(2)))
    with pytest.raises(ValueError, match="positive int"):
        list(xw.attribute_dataset(xw.Saliency(small_cnn()), random_data(2), batch_size=0))
