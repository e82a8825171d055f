"""Streaming compute for the widgets: one worker thread, frames as binary traits.

Every widget owns one `StreamWorker`. A change of a compute parameter submits
a job; the worker runs at most one job at a time, holds at most one pending job
(a newer submission replaces it: last value wins, nothing queues up) and checks
the job's generation number between chunks, so a stale job stops at its next
chunk boundary and never publishes again once a newer job was submitted.

Where a background thread cannot reach the front end (Google Colab), the job
runs inline in the change handler and still publishes each partial result.

Frames travel as a binary trait (``bytes`` → ``DataView`` in JS): the
attribution reduced to one normalised ``(H, W)`` map, float16 (or uint8), plus
a small JSON meta. Colormap, opacity, clipping and sign are applied in JS.
"""

import sys
import threading
import time

import numpy as np

from .. import render

FRAME_DTYPES = ("float16", "uint8")


def in_colab():
    """Whether the kernel runs in Google Colab (background threads cannot reach its front end)."""
    return "google.colab" in sys.modules


# --------------------------------------------------------------------- frames
def encode_frame(values, dtype="float16"):
    """The one frame encoder: attribution values → ``(payload bytes, shape meta)``.

    The channels are reduced with the signed ``max_abs`` aggregate (the value of
    largest magnitude, so ``|frame|`` is the seed article's ``max_k |A_ijk|``)
    and divided by the largest magnitude, giving a map in [-1, 1]. The JS
    applies the clip percentile and the absolute/signed choice to it.

    Args:
        values: attributions of one image, ``(H, W, C)``.
        dtype: ``"float16"`` (2 bytes per pixel, little-endian) or ``"uint8"``
            (1 byte per pixel: ``round((m + 1) / 2 · 255)``).

    Returns:
        ``(payload, meta)``: ``payload`` holds ``H·W`` values row by row;
        ``meta`` is ``{"height", "width", "dtype", "scale"}`` where ``scale`` is
        the magnitude that maps to 1.

    Example:
        >>> payload, meta = encode_frame(attribution.values)
        >>> len(payload) == 2 * meta["height"] * meta["width"]
        True
    """
    if dtype not in FRAME_DTYPES:
        raise ValueError(f"frame dtype must be one of {FRAME_DTYPES}; got {dtype!r}.")
    maps = frame_map(values)
    scale = float(np.abs(maps).max())
    unit = maps / scale if scale > 0 else np.zeros_like(maps)
    if dtype == "float16":
        payload = unit.astype("<f2").tobytes()
    else:
        payload = np.round((unit + 1.0) * 127.5).astype(np.uint8).tobytes()
    height, width = maps.shape
    return payload, {"height": height, "width": width, "dtype": dtype, "scale": scale}


def frame_map(values):
    """The ``(H, W)`` map a frame shows: the signed ``max_abs`` channel aggregate, non-finite values as 0."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3:
        raise ValueError(f"a frame is made from one image's attributions (H, W, C); got shape {values.shape}.")
    maps = render.aggregate_channels(values, "max_abs", signed=True)
    return np.where(np.isfinite(maps), maps, 0.0)


def frame_scale(values):
    """The largest magnitude of `frame_map` (what a frame's ``scale`` reports)."""
    return float(np.abs(frame_map(values)).max())


def decode_frame(payload, meta):
    """Inverse of `encode_frame` (for tests and exports): the ``(H, W)`` map in [-1, 1]."""
    shape = (meta["height"], meta["width"])
    if meta["dtype"] == "float16":
        return np.frombuffer(payload, dtype="<f2").astype(np.float32).reshape(shape)
    return np.frombuffer(payload, dtype=np.uint8).astype(np.float32).reshape(shape) / 127.5 - 1.0


def frame_meta(attribution, job, elapsed_ms, **extra):
    """The JSON meta of a frame: job, method, step, total, progress, delta, elapsed_ms (+ extra)."""
    delta = attribution.delta
    return dict(
        job=job,
        method=attribution.method,
        step=int(attribution.step),
        total=int(attribution.total),
        progress=float(attribution.progress),
        delta=None if delta is None else float(np.ravel(delta)[0]),
        elapsed_ms=round(float(elapsed_ms), 1),
        **extra,
    )


# --------------------------------------------------------------------- worker
class StreamWorker:
    """Runs a widget's jobs: one thread, last value wins, at most one pending job.

    A job is a callable ``job(is_current) -> iterable``; the worker iterates it
    and hands each item to ``publish(item)``. Between items it compares the
    job's generation with the latest one and drops the job when it is stale.
    ``publish`` runs under the worker's lock after that check, so once
    `submit` has returned, no item of an older job is published any more.
    An exception ends the job and is handed to ``fail(error)``.

    Args:
        inline: run jobs in the submitting thread (Colab). ``None`` decides by
            `in_colab`.

    Example:
        >>> worker = StreamWorker()
        >>> worker.submit(lambda is_current: range(3), publish=print, fail=print)
        >>> worker.wait()
    """

    def __init__(self, inline=None):
        self.inline = in_colab() if inline is None else bool(inline)
        self.generation = 0
        self.peak_pending = 0  # the most jobs ever waiting at once (never above 1)
        self._pending = None
        self._running = False
        self._closed = False
        self._lock = threading.Condition()
        self._thread = None

    # ------------------------------------------------------------- interface
    def submit(self, job, publish, fail):
        """Start ``job`` as the newest generation; a pending older job is dropped."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this widget was closed; create a new one.")
            self.generation += 1
            task = (self.generation, job, publish, fail)
            if self.inline:
                self._running = True
            else:
                self._pending = task
                self.peak_pending = max(self.peak_pending, 1)
                self._ensure_thread()
                self._lock.notify_all()
        if self.inline:
            self._run(task)
            with self._lock:
                self._running = False
                self._lock.notify_all()
        return task[0]

    @property
    def pending(self):
        """How many jobs wait to start (0 or 1)."""
        return 0 if self._pending is None else 1

    def busy(self):
        with self._lock:
            return self._running or self._pending is not None

    def wait(self, timeout=None):
        """Block until no job is running or pending; returns False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._running or self._pending is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def close(self):
        """Stop after the current chunk; pending work is dropped."""
        with self._lock:
            self._closed = True
            self.generation += 1
            self._pending = None
            self._lock.notify_all()

    # -------------------------------------------------------------- internals
    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="xai-widgets-stream", daemon=True)
            self._thread.start()

    def _loop(self):
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                if self._closed:
                    self._running = False
                    self._lock.notify_all()
                    return
                task, self._pending = self._pending, None
                self._running = True
            self._run(task)
            with self._lock:
                self._running = False
                self._lock.notify_all()

    def _run(self, task):
        generation, job, publish, fail = task

        def is_current():
            return self.generation == generation

        try:
            for item in job(is_current):
                with self._lock:
                    if not is_current():
                        return
                    publish(item)
        except Exception as error:  # surfaced in the widget, the worker stays alive
            with self._lock:
                if is_current():
                    fail(error)
