"""Fixtures shared by the method tests (one instance per test module)."""

import numpy as np
import pytest

from .helpers import small_cnn


@pytest.fixture(scope="module")
def cnn():
    """A seeded Conv/ReLU/MaxPool/Dense network on 8×8×3 inputs with 5 classes."""
    return small_cnn()


@pytest.fixture(scope="module")
def images():
    """Three random 8×8×3 images in [0, 1] (modules that need more define their own)."""
    return np.random.default_rng(1).uniform(size=(3, 8, 8, 3)).astype("float32")
