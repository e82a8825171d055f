"""Bundled demo data and models: shapes on clutter, with ground-truth masks.

`shapes` generates the data set (numpy only); `load` returns one of the small
Keras models in `MODELS`, trained on it by `python -m xai_widgets.zoo.train`.
Nothing is downloaded: the `.keras` files ship inside this package.
"""

from pathlib import Path

from .dataset import SHAPES_CLASSES, shapes

MODELS = ("shapes_cnn", "shapes_resnet")

__all__ = ["MODELS", "SHAPES_CLASSES", "load", "model_path", "shapes"]


def model_path(name):
    """Return the path of a bundled model file.

    Args:
        name: one of `MODELS`.

    Returns:
        The `pathlib.Path` of `<name>.keras` in this package's directory.

    Raises:
        ValueError: if `name` is not in `MODELS`.

    Example:

    >>> model_path("shapes_cnn").name
    'shapes_cnn.keras'
    """
    if name not in MODELS:
        raise ValueError(f"Unknown zoo model {name!r}; available models: {', '.join(MODELS)}.")
    return Path(__file__).parent / f"{name}.keras"


def load(name):
    """Load a bundled model trained on `shapes` (`SHAPES_CLASSES` order, logits output).

    Args:
        name: one of `MODELS`: `"shapes_cnn"` (plain Conv2D/ReLU/MaxPooling
            network) or `"shapes_resnet"` (BatchNorm, residual `Add`,
            `Concatenate`, global average pooling).

    Returns:
        An uncompiled `keras.Model` mapping `(N, 64, 64, 3)` float images in
        [0, 1] to `(N, len(SHAPES_CLASSES))` logits.

    Raises:
        ValueError: if `name` is not in `MODELS`.

    Example:

    >>> model = load("shapes_cnn")
    >>> images, labels, masks = shapes(4, seed=1)
    >>> model.predict(images, verbose=0).shape
    (4, 6)
    """
    path = model_path(name)
    import keras  # lazily: generating data with `shapes` needs no TensorFlow

    return keras.saving.load_model(path, compile=False)
