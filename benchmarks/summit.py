"""Speed of `xw.summarize` against the floor of a plain forward + backward pass.

Run from the repository root (prints markdown tables):

    python benchmarks/summit.py            # 512 images per run, 5 repeats, ~4 min on 2 busy cores
    python benchmarks/summit.py --quick    # 128 images, 3 repeats

The floor is `TargetModel`'s compiled batched gradient (one forward and one
backward pass through the whole model) over the same images in the same
batches of 32, results fetched as numpy (``common.Floor``); a second column
uses the floor's fastest chunk size. Each summarize run is one full pass:
the probe (channel maxima, kept channels, influences into all or only the
kept channels, ``gradient`` or ``summit`` influence), the gathering through
the strategy, the counting and the dataset-example crops. The probe is traced
once before timing (``first call`` reports that). Runs are interleaved with
the floor, repeat by repeat, and the median ratio is reported (target: ≤ 1.5).

The last table runs on a ``MirroredStrategy`` over two logical CPU devices
(configured before TensorFlow starts); on a machine with two cores this
divides the same cores, so it shows the overhead of the strategy, not a speed-up.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

# Logical devices exist only if configured before TensorFlow initialises its devices.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import xai_widgets as xw  # noqa: E402
from common import Floor, interleaved_ratios, machine_load, markdown_table, seconds  # noqa: E402
from xai_widgets.model import TargetModel  # noqa: E402

BATCH = 32


def variants(model):
    """``{name: options}`` of the summarize runs to time on ``model``."""
    runs = {
        "gradient influence, into all channels (default)": {},
        "gradient influence, into kept channels": {"into": "kept"},
    }
    try:
        xw.summarize(model, xw.zoo.shapes(2, seed=99)[:2], influence="summit", progress=False)
        runs["summit influence, into all channels"] = {"influence": "summit"}
        runs["summit influence, into kept channels"] = {"influence": "summit", "into": "kept"}
    except ValueError:
        pass  # the default layers are joined by blocks, not by one convolution
    return runs


def measure(name, images, labels, repeats, strategy=None, only_default=False):
    model = xw.zoo.load(name)
    floor = Floor(TargetModel(model), images, labels)
    floor.size = BATCH
    best = Floor(TargetModel(model), images, labels)
    best.tune(repeats=2)
    runs = variants(model)
    if only_default:
        runs = {title: options for title, options in runs.items() if "default" in title}
    first = {}
    for title, options in runs.items():
        first[title] = seconds(lambda: xw.summarize(model, (images, labels), batch_size=BATCH, strategy=strategy,
                                                    progress=False, **options))
    calls = {title: (lambda options=options: xw.summarize(model, (images, labels), batch_size=BATCH,
                                                          strategy=strategy, progress=False, **options))
             for title, options in runs.items()}
    calls["floor, best chunk size"] = best.run
    result, floor_seconds = interleaved_ratios(floor, calls, repeats=repeats, warmup=1)
    rows = []
    for title, figures in result.items():
        rows.append([name, title, f"{len(images) / figures['seconds']:.0f}", f"{figures['ratio']:.2f}",
                     f"{first[title]:.1f} s" if title in first else "–"])
    rows.append([name, "floor: forward + backward, batches of 32", f"{len(images) / floor_seconds:.0f}", "1.00", "–"])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 images and 3 repeats")
    arguments = parser.parse_args()
    count, repeats = (128, 3) if arguments.quick else (512, 5)
    images, labels, _ = xw.zoo.shapes(count, seed=5)
    header = ["model", "run", "images / s", "time / floor", "first call (tracing)"]
    print(f"# Summit: `xw.summarize` against the forward + backward floor\n\n{count} images, "
          f"median of {repeats} interleaved repeats; {machine_load()}.\n")
    rows = []
    for name in ("shapes_cnn", "shapes_resnet"):
        rows += measure(name, images, labels, repeats)
    print(markdown_table(header, rows))
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print("\n## MirroredStrategy over two logical CPU devices (same two cores)\n")
    rows = []
    for name in ("shapes_cnn", "shapes_resnet"):
        rows += measure(name, images, labels, repeats, mirrored, only_default=True)
    print(markdown_table(header, rows))
    print(f"\n{machine_load()} at the end.")


if __name__ == "__main__":
    main()
