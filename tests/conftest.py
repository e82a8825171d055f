"""Test-wide setup: quiet TensorFlow, keep Keras and matplotlib out of the home folder."""

import os
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="xai-widgets-tests-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["KERAS_HOME"] = os.path.join(_SCRATCH, "keras")
os.environ["MPLCONFIGDIR"] = os.path.join(_SCRATCH, "matplotlib")
os.environ["MPLBACKEND"] = "Agg"
# notebook kernels (nbval) and Jupyter servers (e2e) inherit these: nothing lands in ~
os.environ["IPYTHONDIR"] = os.path.join(_SCRATCH, "ipython")
os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(_SCRATCH, "jupyter-runtime")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def scratch_dir():
    """A session-wide temporary folder (the same one KERAS_HOME lives in)."""
    return _SCRATCH


@pytest.fixture
def rng():
    return np.random.default_rng(0)
