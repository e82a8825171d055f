"""Retrain the bundled zoo models on the shapes data set.

Usage::

    python -m xai_widgets.zoo.train [--out DIR] [--epochs N] [--train-size N]

Generates one training set with `shapes` (seed `TRAINING_SEED`), trains
`shapes_cnn` and `shapes_resnet` on it on the CPU, saves `<name>.keras` into
`--out` (default: this package's directory) and prints each model's accuracy on
the held-out set `shapes(500, seed=HELD_OUT_SEED)` and the wall time. The
default settings take a few minutes on two CPU cores.
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np

from .models import build_shapes_cnn, build_shapes_resnet
from .dataset import SHAPES_CLASSES, shapes

TRAINING_SEED = 2025
HELD_OUT_SEED = 12345
HELD_OUT_SIZE = 500
BUILDERS = {"shapes_cnn": build_shapes_cnn, "shapes_resnet": build_shapes_resnet}
DEFAULT_EPOCHS = {"shapes_cnn": 6, "shapes_resnet": 4}
BATCH_SIZE = 64
PEAK_LEARNING_RATE = 2e-3


def train_model(name, images, labels, epochs, seed=0):
    """Train one zoo architecture from scratch with Adam and a cosine learning-rate decay.

    Args:
        name: a key of `BUILDERS`.
        images: float32 training images `(N, size, size, 3)`.
        labels: int training labels `(N,)`.
        epochs: passes over the training set.
        seed: seed for weight initialisation and shuffling.

    Returns:
        The trained model, rebuilt without optimizer state (smaller file).

    Example:

    >>> images, labels, _ = shapes(256, seed=1)
    >>> model = train_model("shapes_cnn", images, labels, epochs=1)
    """
    keras.utils.set_random_seed(seed)
    build = BUILDERS[name]
    model = build(len(SHAPES_CLASSES), size=images.shape[1])
    steps = epochs * int(np.ceil(len(images) / BATCH_SIZE))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(PEAK_LEARNING_RATE, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(images, labels, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=2)
    inference_model = build(len(SHAPES_CLASSES), size=images.shape[1])
    inference_model.set_weights(model.get_weights())
    return inference_model


def accuracy(model, images, labels):
    """Fraction of `images` whose arg-max logit is the label.

    Args:
        model: a Keras model returning logits.
        images: float32 images `(N, size, size, 3)`.
        labels: int labels `(N,)`.

    Returns:
        The accuracy as a float in [0, 1].

    Example:

    >>> images, labels, _ = shapes(HELD_OUT_SIZE, seed=HELD_OUT_SEED)
    >>> accuracy(keras.saving.load_model("shapes_cnn.keras"), images, labels)
    """
    logits = model.predict(images, batch_size=250, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def main(argv=None):
    """Train, evaluate and save every zoo model; see the module docstring for the options."""
    arguments = _parse_arguments(argv)
    started = time.perf_counter()
    arguments.out.mkdir(parents=True, exist_ok=True)
    train_images, train_labels, _ = shapes(arguments.train_size, seed=TRAINING_SEED)
    held_out_images, held_out_labels, _ = shapes(HELD_OUT_SIZE, seed=HELD_OUT_SEED)
    print(f"generated {arguments.train_size} training images in {time.perf_counter() - started:.0f} s")

    for name in BUILDERS:
        model_started = time.perf_counter()
        epochs = arguments.epochs or DEFAULT_EPOCHS[name]
        model = train_model(name, train_images, train_labels, epochs)
        path = arguments.out / f"{name}.keras"
        model.save(path)
        held_out_accuracy = accuracy(model, held_out_images, held_out_labels)
        print(
            f"{name}: held-out accuracy {held_out_accuracy:.3f} "
            f"on shapes({HELD_OUT_SIZE}, seed={HELD_OUT_SEED}), {model.count_params()} parameters, "
            f"{path.stat().st_size / 1e6:.2f} MB, "
            f"trained in {time.perf_counter() - model_started:.0f} s -> {path}"
        )
    print(f"total wall time {time.perf_counter() - started:.0f} s")


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python -m xai_widgets.zoo.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent, help="directory for the .keras files"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs for every model (default: per model)"
    )
    parser.add_argument("--train-size", type=int, default=20000, help="number of training images")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
