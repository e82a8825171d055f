"""A streaming method with known partials, registered only for the duration of a test."""

import contextlib
import threading
import time

import numpy as np

from xai_widgets.methods.base import METHODS, Explainer
from xai_widgets.methods.gradient import gradient_batch
from xai_widgets.widgets import controls

COUNTING = "counting_test_method"


class ChunkLog:
    """Which chunks a fake computed, from any thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.chunks = []

    def add(self, entry):
        with self.lock:
            self.chunks.append(entry)

    def snapshot(self):
        with self.lock:
            return list(self.chunks)


def counting_class(log):
    """A method whose k-th of n partials is (k / n)·∇F, one chunk per step (an optional pause, a failure)."""

    class Counting(Explainer):
        method = COUNTING

        def check_options(self, steps=4, delay=0.0, fail_at=0):
            return {"steps": int(steps), "delay": float(delay), "fail_at": int(fail_at)}

        def _partials(self, images, targets, logits):
            total = self.options["steps"]
            gradients, outputs = gradient_batch(self.model, images, targets)
            for step in range(1, total + 1):
                time.sleep(self.options["delay"])
                log.add((total, step))
                if step == self.options["fail_at"]:
                    raise RuntimeError(f"chunk {step} failed on purpose")
                yield dict(values=gradients * step / total, outputs=outputs, progress=step / total, step=step,
                           total=total, evaluations=step)

    return Counting


COUNTING_CONTROLS = [
    controls.slider("steps", "int", 1, 400, 1, 4),
    controls.slider("delay", "float", 0.0, 1.0, 0.001, 0.0),
    controls.slider("fail_at", "int", 0, 400, 1, 0),
]


@contextlib.contextmanager
def registered_counting():
    """Register the counting method (and its controls) for one test; yields its chunk log."""
    log = ChunkLog()
    previous = METHODS.get(COUNTING)
    counting_class(log)
    controls.CONTROLS[COUNTING] = lambda context: [dict(control) for control in COUNTING_CONTROLS]
    try:
        yield log
    finally:
        controls.CONTROLS.pop(COUNTING, None)
        if previous is None:
            METHODS.pop(COUNTING, None)
        else:
            METHODS[COUNTING] = previous


class FrameRecorder:
    """Records every ``frame_meta`` a widget publishes (observers run in the worker thread)."""

    def __init__(self, widget):
        self.lock = threading.Lock()
        self.metas = []
        self.frames = []
        widget.observe(self._record, names="frame_meta")
        self.widget = widget

    def _record(self, change):
        with self.lock:
            self.metas.append(dict(change.new))
            self.frames.append(bytes(self.widget.frame))

    def snapshot(self):
        with self.lock:
            return list(self.metas)


def image_batch(shape=(8, 8, 3), seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)
