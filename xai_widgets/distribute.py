"""Data-set computations on any `tf.distribute.Strategy`.

Two pieces, shared by every computation over a whole data set
(`attribute_dataset` here, `summarize` in the `summit` package):

- `batches` reads host batches ``(images, labels)`` from arrays or a
  ``tf.data.Dataset``, one batch at a time, so memory never grows with the
  size of the data set.
- `ReplicaRunner` cuts each host batch into *units* of ``per_replica``
  consecutive images, runs a step on one unit per replica at a time with
  ``strategy.run`` and gathers the per-image results back, in order, with
  ``strategy.gather``.

Why a strategy gives exactly the single-device result: CPU and GPU kernels
may round differently for different batch sizes (a convolution's gradient for
3 images need not be bitwise the one for 6), so the unit, not the replica
count, decides what each call computes: every unit has exactly
``per_replica`` rows (the last one of a batch is padded with copies of its
last image), and a round that has fewer units than replicas gives the idle
replicas padding units. The results of padding are dropped. Every worker of a
multi-worker strategy reads the whole data set and receives the gathered
results of all replicas, so all workers end with the same results.
"""

import logging
from functools import partial

import numpy as np

from ._backend import tf
from .attribution import Attribution
from .methods.base import Explainer
from .model import as_target_model, check_batch_size

DEFAULT_BATCH_SIZE = 32


def batches(data, model, batch_size=None, labels_required=False):
    """Yield host batches ``(images, labels)`` of a data set.

    Args:
        data: images ``(N, H, W, C)``, a tuple ``(images, labels)`` of arrays,
            or a ``tf.data.Dataset`` whose elements are images or
            ``(image, label)`` pairs, unbatched or batched.
        model: the `TargetModel` that checks the images (shape, dtype, NaN).
        batch_size: images per batch; ``None`` keeps a batched data set's own
            batches and uses `DEFAULT_BATCH_SIZE` otherwise.
        labels_required: refuse data without labels.

    Yields:
        ``(images, labels)``: float32 images ``(n, H, W, C)`` and int64 labels
        ``(n,)``, or ``None`` for data without labels.
    """
    check_batch_size(batch_size)
    if isinstance(data, tf.data.Dataset):
        source = _dataset_batches(data, batch_size)
    else:
        source = _array_batches(data, model, batch_size)
    for images, labels in source:
        if labels is None and labels_required:
            raise ValueError(
                "data has no labels; pass (images, labels) or a tf.data.Dataset of (image, label) "
                "pairs (use the model's predicted classes as labels to summarise its predictions)."
            )
        images, _ = model.prepare_inputs(images)
        yield images, None if labels is None else _check_labels(labels, len(images))


def count_images(data):
    """Number of images in ``data`` if it is known without reading it, else ``None``."""
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        unbatched = len(_images_spec(data).shape) == 3
        return cardinality if unbatched and cardinality >= 0 else None
    images, _ = _split_arrays(data)
    return len(images)


def _array_batches(data, model, batch_size):
    images, labels = _split_arrays(data)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"data has {len(images)} images but {len(labels)} labels; pass one label per image.")
    for start, stop in model.chunks(images, batch_size or DEFAULT_BATCH_SIZE):
        yield images[start:stop], None if labels is None else labels[start:stop]


def _split_arrays(data):
    if isinstance(data, (tuple, list)) and len(data) == 2 and np.ndim(data[1]) == 1:
        images, labels = data
        return _as_array(images), np.asarray(labels)
    if isinstance(data, (tuple, list)) and len(data) == 2 and np.ndim(data[0]) == 4:
        raise ValueError(f"labels must be a 1-D array with one class per image; got shape {np.shape(data[1])}.")
    return _as_array(data), None


def _as_array(images):
    array = images.numpy() if isinstance(images, tf.Tensor) else np.asarray(images)
    if array.ndim != 4:
        raise ValueError(
            f"data must hold a batch of images (N, H, W, C), a tuple (images, labels) or a tf.data.Dataset; "
            f"got an array of shape {array.shape}."
        )
    return array


def _dataset_batches(dataset, batch_size):
    spec = _images_spec(dataset)
    if len(spec.shape) == 3:
        dataset = dataset.batch(batch_size or DEFAULT_BATCH_SIZE)
    elif len(spec.shape) != 4:
        raise ValueError(
            f"the data set's images have shape {spec.shape}; expected images (H, W, C) or batches (N, H, W, C)."
        )
    elif batch_size is not None:
        dataset = dataset.rebatch(batch_size)
    for element in dataset.as_numpy_iterator():
        yield element if isinstance(element, tuple) else (element, None)


def _images_spec(dataset):
    spec = dataset.element_spec
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError(f"data set elements must be images or (image, label) pairs; got {len(spec)} parts.")
        spec = spec[0]
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(f"data set elements must be images or (image, label) pairs of tensors; got {spec}.")
    return spec


def _check_labels(labels, count):
    labels = np.asarray(labels)
    if labels.shape != (count,) or labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class indices, one per image; got dtype {labels.dtype} and shape "
            f"{labels.shape} for {count} images."
        )
    return labels.astype(np.int64)


class ReplicaRunner:
    """Runs a per-image step on every replica of a strategy and gathers the results in order.

    Args:
        strategy: a ``tf.distribute.Strategy``; ``None`` uses the current one
            (the default strategy: one device, unless called inside
            ``strategy.scope()``).
        per_replica: images in one unit, the batch each call of the step gets.
        compile: wrap the distributed call in a ``tf.function``. Use it when
            the step is TensorFlow code (a plain Python function of tensors,
            not itself a ``tf.function``); leave it off for steps that call
            numpy (an `Explainer`).

    Example:
        >>> runner = ReplicaRunner(tf.distribute.MirroredStrategy(), per_replica=16)
        >>> maxima = runner.run(step, images)     # numpy, rows in the order of images
    """

    def __init__(self, strategy=None, per_replica=DEFAULT_BATCH_SIZE, compile=False):
        if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
            raise ValueError(
                f"strategy must be a tf.distribute.Strategy (e.g. tf.distribute.MirroredStrategy()) or None; "
                f"got {type(strategy).__name__}."
            )
        check_batch_size(per_replica)
        if not compile:
            _quiet_eager_notice()
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.per_replica = per_replica
        self._compile = compile
        self._distributed = {}

    @property
    def global_batch(self):
        """Images the replicas compute together in one round."""
        return self.per_replica * self.replicas

    def run(self, step, *arrays):
        """``step(*unit)`` on every unit of ``arrays``; returns its results as numpy, one row per image.

        Args:
            step: a function of per-replica tensors (one unit of each of
                ``arrays``) returning a nest of tensors whose first axis runs
                over the unit's images.
            *arrays: host arrays with the same first dimension (the batch).

        Returns:
            The nest that ``step`` returns, as numpy arrays whose first axis
            runs over the rows of ``arrays``, in order.
        """
        count = len(arrays[0])
        rounds = []
        for start in range(0, count, self.global_batch):
            units = [units_of(array[start:start + self.global_batch], self.per_replica, self.replicas)
                     for array in arrays]
            values = [self._distribute(unit) for unit in units]
            rounds.append(self._distributed_call(step)(*values))
        return tf.nest.map_structure(lambda *parts: np.concatenate([part.numpy() for part in parts])[:count],
                                     *rounds)

    def _distribute(self, units):
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(units[context.replica_id_in_sync_group])
        )

    def _distributed_call(self, step):
        # A functools.partial gives every runner its own tf.function identity, so TF's
        # warning about frequent retracing does not add up the traces of other runners.
        if step not in self._distributed:
            if self._compile:
                self._distributed[step] = tf.function(partial(_run_and_gather, self.strategy, step), autograph=False)
            else:
                gather = tf.function(partial(_gather, self.strategy), autograph=False)  # eager gathers retrace
                self._distributed[step] = lambda *values: gather(self.strategy.run(step, args=values))
        return self._distributed[step]


def _run_and_gather(strategy, step, *values):
    return _gather(strategy, strategy.run(step, args=values))


def _gather(strategy, results):
    return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0), results)


class _EagerNoticeFilter(logging.Filter):
    """Drops TF's advice to compile ``strategy.run``: a step that calls numpy (an Explainer) cannot be."""

    def filter(self, record):
        return "Using MirroredStrategy eagerly" not in record.getMessage()


def _quiet_eager_notice():
    logger = tf.get_logger()
    if not any(isinstance(existing, _EagerNoticeFilter) for existing in logger.filters):
        logger.addFilter(_EagerNoticeFilter())


def units_of(array, per_replica, replicas):
    """Cut ``array`` (at most ``per_replica × replicas`` rows) into ``replicas`` units of ``per_replica`` rows.

    Missing rows are copies of the last row; callers drop the results of
    these padding rows (they come last after gathering).
    """
    padding = per_replica * replicas - len(array)
    if padding:
        array = np.concatenate([array, np.repeat(array[-1:], padding, axis=0)])
    return [array[index * per_replica:(index + 1) * per_replica] for index in range(replicas)]


ATTRIBUTION_FIELDS = ("values", "target", "outputs", "baseline_outputs", "delta")


def attribute_dataset(explainer, data, strategy=None, batch_size=None):
    """Attributions for a whole data set, batch by batch, on any ``tf.distribute`` strategy.

    The data is cut into units of ``batch_size`` images; every replica runs
    ``explainer`` on one unit at a time and the results are gathered back in
    order. Each unit is computed the same way whatever the number of
    replicas, so the result is exactly the single-device result — for
    explainers with a fixed ``batch_size`` (automatic chunk sizing picks chunk
    sizes by timing, and kernels may round differently for other chunk
    sizes) and without random draws (SmoothGrad's noise depends on the unit).

    Args:
        explainer: an `Explainer`, e.g. ``xw.IntegratedGradients(model, steps=32)``.
        data: images ``(N, H, W, C)``, a tuple ``(images, labels)`` or a
            ``tf.data.Dataset`` of images or ``(image, label)`` pairs
            (unbatched or batched). Labels are the explained targets; without
            labels each image's arg-max class is explained.
        strategy: a ``tf.distribute.Strategy`` (``MirroredStrategy`` over
            several GPUs, ``MultiWorkerMirroredStrategy`` across machines);
            ``None`` uses the current strategy (one device by default).
        batch_size: images per replica and step (the unit); ``None`` uses 32.

    Yields:
        One batched `Attribution` per round of units (``batch_size`` ×
        replicas images), in data order; ``info["start"]`` is the position
        of its first image in the data.

    Example:
        >>> strategy = tf.distribute.MirroredStrategy()
        >>> explainer = xw.IntegratedGradients(model, steps=32)
        >>> for attribution in xw.attribute_dataset(explainer, (images, labels), strategy):
        ...     print(attribution.delta.max())
    """
    if not isinstance(explainer, Explainer):
        raise ValueError(
            f"explainer must be an attribution method object such as xw.Saliency(model) or "
            f"xw.IntegratedGradients(model, steps=32); got {type(explainer).__name__}."
        )
    runner = ReplicaRunner(strategy, DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
    step = _explain_step(explainer)
    start = 0
    for images, labels in batches(data, as_target_model(explainer.model), runner.global_batch):
        fields = runner.run(step, images) if labels is None else runner.run(step, images, labels)
        yield Attribution(method=explainer.method, options=dict(explainer.options), info={"start": start}, **fields)
        start += len(images)


def _explain_step(explainer):
    def step(images, labels=None):
        attribution = explainer(images, None if labels is None else labels.numpy())
        return {
            name: tf.constant(getattr(attribution, name))
            for name in ATTRIBUTION_FIELDS
            if getattr(attribution, name) is not None
        }

    return step
