"""Speed and economy of the gradient methods, measured against the compiled-gradient floor.

Run from the repository root (prints markdown tables):

    python benchmarks/gradient_methods.py            # full run, ~15 min on 2 busy cores
    python benchmarks/gradient_methods.py --quick    # fewer images, samples and repeats

1. Speed. On the bundled ``shapes_cnn`` and on
   ``keras.applications.MobileNetV2(weights=None, classifier_activation=None)``:
   saliency, IG(steps=50) and SmoothGrad(samples=50), all with
   ``batch_size=None``, as ratios to the floor (see ``common.py``) for the same
   number of gradients; the chunk size the library chose against the best
   one; and the first call's tracing/compile time.
2. Fewer gradients. Gradient evaluations IG needs to reach
   |delta| ≤ 1 % of |F(x) − F(x′)|, median over 20 zoo images: every fixed
   rule (the smallest step count that meets it, trying every count) against
   ``steps="auto"``, with each map's error against a 2048-step reference.
3. SmoothGrad samples needed to reach a correlation of 0.95 with a
   1000-sample reference, i.i.d. against antithetic noise.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import xai_widgets as xw  # noqa: E402
from common import Floor, interleaved_ratios, machine_load, markdown_table, seconds  # noqa: E402
from xai_widgets._backend import keras  # noqa: E402
from xai_widgets.methods.integrated import RULES  # noqa: E402
from xai_widgets.model import TargetModel  # noqa: E402

STEPS = SAMPLES = 50
TOLERANCE = 0.01
CORRELATION = 0.95


# -------------------------------------------------------------------- speed
def speed(name, model, images, repeats):
    """Rows of the speed table for one model; ``images`` holds 50× the images IG and SmoothGrad explain."""
    wrapped = TargetModel(model)  # fresh, so that the first call pays tracing and compilation
    first = seconds(lambda: xw.saliency(wrapped, images[:1], 0))
    again = seconds(lambda: xw.saliency(wrapped, images[:1], 0))
    targets = wrapped.select_targets(images, None)
    explained = images[: len(images) // STEPS]
    explained_targets = targets[: len(explained)]
    ig = xw.IntegratedGradients(wrapped, steps=STEPS)
    smooth = xw.SmoothGrad(wrapped, samples=SAMPLES, seed=0)
    methods = {
        "saliency": lambda: xw.saliency(wrapped, images, targets),
        f"integrated_gradients(steps={STEPS})": lambda: ig(explained, explained_targets),
        f"smoothgrad(samples={SAMPLES})": lambda: smooth(explained, explained_targets),
        "saliency, target=None (arg-max in the same pass)": lambda: xw.saliency(wrapped, images),
    }
    for call in methods.values():
        call()
    sizer = wrapped._chunk_sizers[tuple(images.shape[1:])]
    calls = len(methods)
    while not sizer.settled and calls < 60:  # time the settled choice, not the search
        methods["saliency"]()
        calls += 1
    floor = Floor(wrapped, images, targets)
    best = floor.tune(repeats=max(2, repeats // 2), limit=sizer.limit)
    chosen = sizer.next_size()
    chosen_ratio = floor.paired_ratio(chosen, best, repeats=max(3, repeats // 2)) if chosen != best else 1.0
    methods["floor, results read in place (np.asarray, no copy)"] = lambda: floor.run(copy=False)
    ratios, floor_seconds = interleaved_ratios(floor, methods, repeats=repeats, warmup=1)
    rows = [[name, method, len(images), f"{result['ratio']:.3f}", f"{result['cpu_ratio']:.3f}",
             f"{result['seconds'] * 1e3:.0f}"] for method, result in ratios.items()]
    chunk_row = [name, best, f"{floor.per_size[best] * 1e3:.0f}", f"{chosen} (after {calls} calls)",
                 f"{chosen_ratio:.3f}", f"{first - again:.2f}", f"{floor_seconds * 1e3:.0f}"]
    return rows, chunk_row


def speed_tables(quick):
    repeats = 3 if quick else 7
    shapes_images, _, _ = xw.zoo.shapes(STEPS * (2 if quick else 8), seed=0)
    mobile_count = STEPS * (1 if quick else 2)
    mobile_images = np.random.default_rng(0).uniform(size=(mobile_count, 224, 224, 3)).astype("float32")
    mobilenet = keras.applications.MobileNetV2(weights=None, classifier_activation=None)
    rows, chunk_rows = [], []
    for name, model, images in [("shapes_cnn", xw.zoo.load("shapes_cnn"), shapes_images),
                                ("MobileNetV2", mobilenet, mobile_images)]:
        print(f"timing {name} …", file=sys.stderr, flush=True)
        model_rows, chunk_row = speed(name, model, images, repeats)
        rows += model_rows
        chunk_rows.append(chunk_row)
    print("\n### Speed: ratio to the compiled-gradient floor (same number of gradients, batch_size=None)\n")
    print(markdown_table(["model", "method", "gradients per call", "wall-time ratio to floor (median)",
                          "CPU-time ratio", "ms per call"], rows))
    print("\n### Chunk size and compilation\n")
    print(markdown_table(["model", "best chunk size (floor)", "floor ms at best", "chunk size chosen by ChunkSizer",
                          "floor time at chosen / at best (paired runs)", "first-call trace+compile s",
                          "floor ms (interleaved)"],
                         chunk_rows))


# ------------------------------------------------------ adaptive quadrature
def meets_tolerance(attribution):
    return np.abs(attribution.delta) <= TOLERANCE * np.abs(attribution.outputs - attribution.baseline_outputs)


def first_step_count(model, images, labels, rule, cap):
    """Per image, the smallest step count whose |delta| meets the tolerance (every count tried), and that map.

    This credits a fixed rule with knowing in advance which count happens to
    work; delta oscillates with the step count, so it is generous.
    """
    needed, maps, pending = np.full(len(images), np.inf), np.zeros_like(images), np.arange(len(images))
    for steps in range(2 if rule == "riemann_trapezoid" else 1, cap + 1):
        a = xw.integrated_gradients(model, images[pending], labels[pending], baseline="black", steps=steps, rule=rule)
        met = meets_tolerance(a)
        needed[pending[met]], maps[pending[met]] = steps, a.values[met]
        pending = pending[~met]
        if not len(pending):
            break
    return needed, maps


def reliable_step_count(model, images, labels, rule, grid):
    """Per image, the smallest count on ``grid`` from which on every larger count on the grid meets the tolerance."""
    met = np.array([meets_tolerance(xw.integrated_gradients(model, images, labels, baseline="black", steps=steps,
                                                           rule=rule)) for steps in grid])
    needed = np.full(len(images), np.inf)
    for index in range(len(grid) - 1, -1, -1):
        still = met[index] & (needed == grid[index + 1] if index + 1 < len(grid) else met[index])
        needed[still] = grid[index]
    return needed


def relative_error(maps, reference):
    flat, ref = maps.reshape(len(maps), -1), reference.reshape(len(reference), -1)
    return np.linalg.norm(flat - ref, axis=1) / np.linalg.norm(ref, axis=1)


def quadrature_table(quick):
    count, cap = (8, 128) if quick else (20, 256)
    grid = [steps for steps in (*range(2, 17), *range(20, 65, 4), *range(80, 257, 16)) if steps <= cap]
    model = xw.zoo.load("shapes_cnn")
    images, labels, _ = xw.zoo.shapes(count, seed=20)
    print("IG reference and fixed rules …", file=sys.stderr, flush=True)
    reference = xw.integrated_gradients(model, images, labels, baseline="black", steps=2048).values
    rows = []

    def median_text(values):
        median = np.median(values)
        return f"{median:.0f}" if np.isfinite(median) else f"> {cap}"

    for rule in RULES:
        first, maps = first_step_count(model, images, labels, rule, cap)
        reliable = reliable_step_count(model, images, labels, rule, grid)
        reached = np.isfinite(first)
        error = np.median(relative_error(maps[reached], reference[reached])) if reached.any() else np.nan
        rows.append([rule, median_text(first), median_text(reliable), f"{error:.3f}"])
    auto = xw.integrated_gradients(model, images, labels, baseline="black", steps="auto", tolerance=TOLERANCE)
    evaluations = f"{np.median(auto.evaluations):.0f} ({meets_tolerance(auto).sum()}/{count} met)"
    rows.append(["steps='auto'", evaluations, evaluations, f"{np.median(relative_error(auto.values, reference)):.3f}"])
    print(f"\n### IG: gradient evaluations per image to reach |delta| ≤ {TOLERANCE:.0%} of |F(x) − F(x′)| "
          f"(shapes_cnn, baseline black, median over {count} images)\n")
    print(markdown_table(["rule", "smallest step count that meets it", "step count from which on all larger ones do",
                          "map error at the first count (median rel. L2 vs 2048 steps)"], rows))


# ---------------------------------------------------------------- smoothgrad
def samples_to_correlation(model, images, labels, reference, sampling, seed, most):
    """Per image: the first even sample count whose running mean correlates ≥ 0.95 with the reference."""
    needed = np.full(len(images), np.inf)
    explainer = xw.SmoothGrad(model, samples=most, seed=seed, sampling=sampling, batch_size=2 * len(images))
    flat_reference = reference.reshape(len(images), -1)
    for partial in explainer.stream(images, labels):
        flat = partial.values.reshape(len(images), -1)
        correlations = [np.corrcoef(flat[index], flat_reference[index])[0, 1] for index in range(len(images))]
        reached = (np.array(correlations) >= CORRELATION) & np.isinf(needed)
        needed[reached] = partial.step
    return needed


def smoothgrad_table(quick):
    count, seeds, most = (6, 2, 600) if quick else (20, 4, 1000)
    model = xw.zoo.load("shapes_cnn")
    images, labels, _ = xw.zoo.shapes(count, seed=40)
    print("SmoothGrad reference …", file=sys.stderr, flush=True)
    reference = xw.smoothgrad(model, images, labels, samples=1000, seed=12345, sampling="iid").values
    rows = []
    for sampling in ("iid", "antithetic"):
        needed = np.concatenate([samples_to_correlation(model, images, labels, reference, sampling, seed, most)
                                 for seed in range(seeds)])
        median = np.median(needed)
        rows.append([sampling, f"{median:.0f}" if np.isfinite(median) else f"> {most}",
                     f"{np.mean(needed[np.isfinite(needed)]):.1f}", f"{np.isfinite(needed).sum()}/{len(needed)}"])
    print(f"\n### SmoothGrad: samples to reach correlation {CORRELATION} with a 1000-sample reference "
          f"(shapes_cnn, noise 0.15, {count} images × {seeds} seeds)\n")
    print(markdown_table(["sampling", "samples (median)", "samples (mean of those reaching it)", "runs reaching it"],
                         rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images, samples and repeats")
    parser.add_argument("--only", choices=("speed", "quadrature", "smoothgrad"), help="run one part")
    arguments = parser.parse_args()
    began = time.perf_counter()
    print(f"Machine at start: {machine_load()}")
    parts = {"speed": speed_tables, "quadrature": quadrature_table, "smoothgrad": smoothgrad_table}
    for name, part in parts.items():
        if arguments.only in (None, name):
            part(arguments.quick)
    print(f"\nMachine at end: {machine_load()}; total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
