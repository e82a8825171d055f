"""Speed of LRP, DeepLIFT and guided backprop, measured against the compiled-gradient floor.

Run from the repository root (prints markdown tables):

    python benchmarks/propagation.py            # shapes_resnet and ResNet50 at 224×224 (~10 min on 2 busy cores)
    python benchmarks/propagation.py --quick    # ResNet50 at 96×96, fewer images and repeats

Every method explains the same N images with one target each, so the floor
(see ``common.py``) is one compiled gradient of those N images; DeepLIFT uses
one baseline (zero), so it too costs one walk per image. All run at the
floor's best chunk size, so the ratio is the per-call cost of the walk
itself. The first call of each method on a fresh model wrapper pays the
tracing and graph compilation of its `tf.function`; that time is reported
separately (first call − a later call).
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import xai_widgets as xw  # noqa: E402
from common import Floor, interleaved_ratios, machine_load, markdown_table, seconds  # noqa: E402
from xai_widgets._backend import keras  # noqa: E402
from xai_widgets.model import TargetModel  # noqa: E402

METHODS = {
    "lrp(rule='epsilon')": lambda model, size: xw.LRP(model, batch_size=size),
    "lrp(composite='epsilon_plus')": lambda model, size: xw.LRP(model, composite="epsilon_plus", batch_size=size),
    "lrp(composite='epsilon_gamma_box')": lambda model, size: xw.LRP(model, composite="epsilon_gamma_box",
                                                                     batch_size=size),
    "deeplift(rule='rescale')": lambda model, size: xw.DeepLIFT(model, batch_size=size),
    "deeplift(rule='reveal_cancel')": lambda model, size: xw.DeepLIFT(model, rule="reveal_cancel",
                                                                      batch_size=size),
    "guided_backprop": lambda model, size: xw.GuidedBackprop(model, batch_size=size),
}


def measure(name, model, images, repeats):
    """Rows (ratio to the floor, ms per call, first-call compile seconds) for one model."""
    wrapped = TargetModel(model)  # fresh: every method's first call traces and compiles its walk
    targets = wrapped.select_targets(images, None)
    floor = Floor(wrapped, images, targets)
    size = floor.tune(repeats=2, limit=len(images))
    compile_seconds, calls = {}, {}
    for method, make in METHODS.items():
        explainer = make(wrapped, size)
        first = seconds(lambda: explainer(images, targets))
        again = seconds(lambda: explainer(images, targets))
        compile_seconds[method] = first - again
        calls[method] = lambda explainer=explainer: explainer(images, targets)
        print(f"  {name}: {method} compiled in {first - again:.1f} s", file=sys.stderr, flush=True)
    ratios, floor_seconds = interleaved_ratios(floor, calls, repeats=repeats, warmup=1)
    rows = [[name, method, len(images), f"{result['ratio']:.2f}", f"{result['seconds'] * 1e3:.0f}",
             f"{compile_seconds[method]:.1f}"] for method, result in ratios.items()]
    rows.append([name, "gradient (the floor)", len(images), "1.00", f"{floor_seconds * 1e3:.0f}", "–"])
    return rows, size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats, ResNet50 at 96×96")
    arguments = parser.parse_args()
    repeats = 3 if arguments.quick else 7
    resnet_size = 96 if arguments.quick else 224
    shapes_images, _, _ = xw.zoo.shapes(16 if arguments.quick else 64, seed=0)
    resnet_images = np.random.default_rng(0).uniform(
        size=(8 if arguments.quick else 16, resnet_size, resnet_size, 3)).astype("float32")
    resnet = keras.applications.ResNet50(weights=None, classifier_activation=None,
                                         input_shape=(resnet_size, resnet_size, 3))
    print(f"# Propagation methods against the compiled-gradient floor\n\n{machine_load()}\n")
    rows, sizes = [], []
    for name, model, images in [("shapes_resnet", xw.zoo.load("shapes_resnet"), shapes_images),
                                (f"ResNet50 {resnet_size}×{resnet_size}", resnet, resnet_images)]:
        print(f"timing {name} …", file=sys.stderr, flush=True)
        model_rows, size = measure(name, model, images, repeats)
        rows += model_rows
        sizes.append(f"{name}: {size}")
    print(markdown_table(["model", "method", "images per call", "ratio to floor (median)", "ms per call",
                          "first-call trace+compile s"], rows))
    print(f"\nchunk size (the floor's fastest, used by every method): {', '.join(sizes)}")
    print(f"\n{machine_load()}")


if __name__ == "__main__":
    main()
