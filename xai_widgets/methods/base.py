"""`Explainer`: what every method class shares.

A method subclasses `Explainer`, names itself (``method = "saliency"``),
checks its options in ``check_options`` and implements ``_partials`` — a
generator that yields the fields of an `Attribution` (batched) as the
computation proceeds. The last item it yields is the full result, so
``explainer(x, target)`` is exactly the last partial of
``explainer.stream(x, target)``.
"""

import numpy as np

from ..attribution import Attribution
from ..model import ARGMAX, as_target_model, check_batch_size

METHODS = {}


class Explainer:
    """Base class of the method classes (``xw.Saliency``, ``xw.IntegratedGradients``, …).

    Args:
        model: a Keras model or a callable ``images -> logits``.
        batch_size: inputs per compiled gradient call; ``None`` chooses it by timing.
        output: ``None`` refuses a final softmax, ``"logits"`` strips it.
        **options: the method's own options (see each method).
    """

    method = None
    # Whether the method's one gradient pass per image can pick the arg-max
    # target itself (saliency-like methods), sparing the forward pass that
    # `target=None` otherwise needs first.
    argmax_in_gradient_pass = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.method is not None:
            METHODS[cls.method] = cls

    def __init__(self, model, *, batch_size=None, output=None, **options):
        check_batch_size(batch_size)
        self.model = as_target_model(model, output)
        self.batch_size = batch_size
        self.options = self.check_options(**options)

    def check_options(self, **options):
        """Validate the method's options and return them as a dict (with defaults)."""
        if options:
            raise TypeError(f"{type(self).__name__} takes no option(s) {sorted(options)}.")
        return {}

    def __call__(self, x, target=None):
        """Attributions for ``x`` (one image or a batch) towards ``target``."""
        return self.stream(x, target).last()

    def stream(self, x, target=None, **stream_options):
        """Yield partial `Attribution` results; the last one equals ``self(x, target)``.

        Inputs and targets are checked here, before the first partial is
        computed, so a bad argument raises at once. ``stream_options`` are the
        method's own streaming choices (e.g. IG's ``order``), passed on to
        ``_partials``.
        """
        images, single = self.model.prepare_inputs(x)
        if target is None and self.argmax_in_gradient_pass and self.model.num_classes is not None:
            logits, targets = None, np.full(len(images), ARGMAX, dtype=np.int32)  # filled in by the pass
        else:
            logits = self.model.logits(images, self.batch_size) if target is None else None
            targets = self.model.select_targets(images, target, logits, self.batch_size)
        partials = self._partials(images, targets, logits, **stream_options)
        return PartialStream(partials, lambda fields: Attribution.from_batch(
            single, method=self.method, target=targets, options=dict(self.options), **fields))

    def _partials(self, images, targets, logits):
        """Yield the `Attribution` fields (batched: leading axis N) of each partial result.

        An item is a dict, or a function returning one: a partial that costs
        something to assemble (e.g. IG's integral up to α) is then only
        assembled if it is taken, never when a plain call skips to the end.
        Such a function is called before the generator resumes, if at all.
        """
        raise NotImplementedError

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{type(self).__name__}({self.model.name!r}{', ' if options else ''}{options})"


class PartialStream:
    """The partial `Attribution` results of one `Explainer.stream` call, each built when it is taken.

    Iterate it for every partial; ``last()`` skips to the final result (what
    calling the explainer returns) without assembling the partials before it.
    """

    def __init__(self, partials, build):
        self._partials, self._build = partials, build

    def __iter__(self):
        return self

    def __next__(self):
        return self._build(_fields(next(self._partials)))

    def last(self):
        """The final `Attribution`: the rest of the stream is computed, only its last partial assembled."""
        fields = None
        for fields in self._partials:
            pass
        return self._build(_fields(fields))

    def close(self):
        """Stop the computation (the chunk in flight, if any, finishes first)."""
        self._partials.close()


def _fields(item):
    return item() if callable(item) else item


def explain(model, x, method="integrated_gradients", target=None, **options):
    """Run any method by name: ``xw.explain(model, x, "smoothgrad", samples=20)``.

    Args:
        model: a Keras model or a callable ``images -> logits``.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
        method: one of ``xw.METHODS`` (e.g. ``"saliency"``, ``"integrated_gradients"``).
        target: class index, one per image, or ``None`` for the arg-max class.
        **options: the method's options and ``batch_size`` / ``output``.

    Returns:
        An `Attribution`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(sorted(METHODS))}.")
    return METHODS[method](model, **options)(x, target)
