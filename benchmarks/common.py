"""Timing helpers shared by the benchmarks: the compiled-gradient floor and ratios to it.

The floor is what no gradient-based method can beat: `TargetModel`'s compiled
batched gradient over exactly the inputs a method needs, built beforehand,
run in chunks of the size that is fastest on this machine (several sizes are
tried) with the results fetched as numpy arrays (``Tensor.numpy()``, a copy,
as user code would; the library reads them in place, and the gradient
benchmark also times the floor read that way, so the difference is visible).
A method's ratio is its wall time over the floor's for the same number of
gradients. Floor and methods are timed interleaved, repeat by repeat, and
each repeat gives one ratio, so that load from other processes hits both
alike; the median ratio is reported.

Other method families (LRP, DeepLIFT, …) add rows with `interleaved_ratios`
against the same `Floor`.
"""

import os
import statistics
import time

import numpy as np

CHUNK_SIZES = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)


def seconds(call):
    """Wall time of one call."""
    return timed(call)[0]


def timed(call):
    """Wall time and CPU time (all threads of this process) of one call."""
    began, began_cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - began, time.process_time() - began_cpu


class Floor:
    """The compiled gradient of a `TargetModel` over fixed inputs, in chunks of a chosen size.

    Args:
        wrapped: a `xai_widgets.model.TargetModel`.
        inputs: float32 array ``(count, H, W, C)``: as many inputs as the method evaluates.
        targets: int array ``(count,)``.
    """

    def __init__(self, wrapped, inputs, targets):
        self.inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        self.targets = np.asarray(targets, dtype=np.int32)
        self.step = wrapped._compiled_function("gradient", self.inputs.shape[1:])
        self.size = None
        self.per_size = {}

    def run(self, size=None, copy=True):
        """One pass over the inputs; results fetched with ``Tensor.numpy()`` (a copy, as user code does)
        or, with ``copy=False``, read in place (``np.asarray``, how the library reads them)."""
        size = size or self.size
        fetch = (lambda tensor: tensor.numpy()) if copy else np.asarray
        for start in range(0, len(self.inputs), size):
            grads, outputs, _ = self.step(self.inputs[start:start + size], self.targets[start:start + size])
            fetch(grads), fetch(outputs)

    def tune(self, sizes=CHUNK_SIZES, repeats=3, limit=None):
        """Time every chunk size (interleaved, median of ``repeats``) and keep the fastest."""
        sizes = [size for size in sizes if limit is None or size <= limit]
        for size in sizes:
            self.run(size)  # a new batch size may build new kernels once
        times = {size: [] for size in sizes}
        for _ in range(repeats):
            for size in sizes:
                times[size].append(seconds(lambda: self.run(size)))
        self.per_size = {size: statistics.median(values) for size, values in times.items()}
        self.size = min(self.per_size, key=self.per_size.get)
        return self.size

    def paired_ratio(self, size, reference, repeats=5):
        """Median ratio of the floor's time at ``size`` to that at ``reference``, timed in alternation."""
        ratios = []
        for _ in range(repeats):
            ratios.append(seconds(lambda: self.run(size)) / seconds(lambda: self.run(reference)))
        return statistics.median(ratios)


def interleaved_ratios(floor, methods, repeats=5, warmup=2):
    """Median wall-time (and CPU-time) ratio of each method to the floor, timed in alternation.

    Args:
        floor: a tuned `Floor`.
        methods: ``{name: call}``; each call must evaluate as many gradients as the floor.
        repeats: timed rounds (each: the floor, then every method once).
        warmup: untimed calls of each method first (compilation, chunk-size tuning).

    Returns:
        ``{name: {"ratio", "cpu_ratio", "seconds"}}`` (medians over the rounds) and the
        floor's median wall seconds. CPU time counts this process only, so it is
        less disturbed by other processes than wall time.
    """
    for call in methods.values():
        for _ in range(warmup):
            call()
    floor_times, times = [], {name: [] for name in methods}
    for _ in range(repeats):
        floor_times.append(timed(floor.run))
        for name, call in methods.items():
            times[name].append(timed(call))
    result = {}
    for name, values in times.items():
        result[name] = {
            "ratio": statistics.median(value[0] / base[0] for value, base in zip(values, floor_times)),
            "cpu_ratio": statistics.median(value[1] / base[1] for value, base in zip(values, floor_times)),
            "seconds": statistics.median(value[0] for value in values),
        }
    return result, statistics.median(base[0] for base in floor_times)


def machine_load():
    """One line on how busy the machine was: load averages and core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} CPU cores"


def markdown_table(header, rows):
    """A markdown table from a header row and data rows (all converted with str)."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
