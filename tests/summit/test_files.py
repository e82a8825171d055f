"""A summary survives `save` / `Summary.load` unchanged, without pickled objects."""

import json
import os

import numpy as np
import pytest

import xai_widgets as xw

from .helpers import random_data, small_cnn


@pytest.fixture(scope="module")
def summary():
    return xw.summarize(small_cnn(), random_data(20), batch_size=8, progress=False)


def test_save_and_load_round_trip_every_array_and_the_graphs(summary, scratch_dir):
    path = os.path.join(scratch_dir, "round_trip.summit.npz")
    assert summary.save(path) == path
    loaded = xw.Summary.load(path)
    assert (loaded.layers, loaded.channels, loaded.model_name) == (summary.layers, summary.channels, "small_cnn")
    assert loaded.options == summary.options and loaded.fields == json.loads(json.dumps(summary.fields))
    np.testing.assert_array_equal(loaded.class_counts, summary.class_counts)
    for first, second in zip(summary.activations, loaded.activations):
        np.testing.assert_array_equal(first, second)
    for first, second in zip(summary.influences, loaded.influences):
        np.testing.assert_array_equal(first.dense(), second.dense())
    for first, second in zip(summary.examples, loaded.examples):
        for array, other in zip(first._arrays(), second._arrays()):
            np.testing.assert_array_equal(array, other)
    for class_index in np.flatnonzero(summary.class_counts):
        assert loaded.graph(int(class_index)).to_dict() == summary.graph(int(class_index)).to_dict()


def test_the_file_holds_only_plain_arrays(summary, scratch_dir):
    path = os.path.join(scratch_dir, "plain.summit.npz")
    summary.save(path)
    with np.load(path, allow_pickle=False) as stored:
        assert all(stored[name].dtype != object for name in stored.files)
        assert json.loads(str(stored["meta"]))["layers"] == list(summary.layers)


@pytest.mark.parametrize("version", [0, 1])
def test_a_file_of_another_format_is_refused(summary, scratch_dir, version):
    # format 1 counted influence into each image's kept channels only: its counts mean something else
    path = os.path.join(scratch_dir, f"old_{version}.summit.npz")
    np.savez(path, meta=np.array(json.dumps({"format": version})))
    with pytest.raises(ValueError, match=f"format {version}.*Recompute"):
        xw.Summary.load(path)
