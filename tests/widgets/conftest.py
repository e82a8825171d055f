import pytest

from tests.methods.helpers import small_cnn

from .fakes import image_batch, registered_counting
from .frontend import ensure_bundle


@pytest.fixture(scope="module")
def model():
    return small_cnn(shape=(8, 8, 3), classes=7)


@pytest.fixture
def image():
    return image_batch((8, 8, 3))


@pytest.fixture
def counting():
    with registered_counting() as log:
        yield log


@pytest.fixture(scope="session")
def built_frontend():
    """The bundle ``xai_widgets/static/explorer.js``, built with esbuild when missing."""
    return ensure_bundle()
