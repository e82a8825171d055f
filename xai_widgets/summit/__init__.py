"""Summit: what a CNN's channels detect, class by class, and how they connect.

Hohman, Park, Robinson and Chau (2019), "Summit: Scaling Deep Learning
Interpretability by Visualizing Activation and Attribution Summarizations",
IEEE VIS. One pass over a labelled data set aggregates, per class, which
channels fire and which channels feed them; the attribution graph of a class
is read off these counts.

For an image of class c and a chosen layer with activations A (H × W × C):

    m_k  = max_{u,v} A_{u,v,k}                    channel k's spatial maximum
    m̂_k = max(m_k, 0) / Σ_k' max(m_k', 0)         normalised
    kept = the fewest channels, largest m̂ first, whose m̂ add up to `mass`,
           at most `top_channels` of them
    activations[c, k] += 1 for every kept k         (aggregated activation matrix)

Between consecutive chosen layers, previous A (channels i) and next B with
spatial maxima M_j:

    influence="gradient":  I_ji = Σ_{u,v} A_{u,v,i} · ∂M_j / ∂A_{u,v,i}
    influence="summit":    I_ji = max_{u,v} (A_{:,:,i} ⋆ K_{:,:,i,j})_{u,v}
    influences[c, j, i] += 1 for the `top_k` largest positive I_ji of every
                             channel j of the next layer

"gradient" is activation × gradient and works across any blocks between the
layers; "summit" is the paper's definition, for layers joined by a single
convolution with kernel K (⋆ is that convolution, one input channel at a time).
Both are exact for every next channel j. Layers joined by one convolution
(and channel-wise layers) cost less than one extra convolution (see
`influence.convolution_influence`); layers joined by blocks cost one
forward-mode pass through the block per previous channel.
``into="kept"`` counts influence only into each image's kept channels (one
backward pass per kept channel through blocks), the cheaper choice for large
models.

The attribution graph of a class is a personalised PageRank over the
influence counts, personalised by the class's activation counts; each layer
keeps its best-scoring channels, the same number per layer, growing until
consecutive layers connect.

Modules: `layers` (layer choice, pair structure), `fields` (receptive
fields), `influence` (the influence formulas), `probe` (the compiled
per-replica step), `counts` (sparse counts, dataset examples), `summary`
(`Summary`, its builder and file), `graph` (PageRank, `AttributionGraph`).
"""

import numpy as np

from ..distribute import DEFAULT_BATCH_SIZE, batches, count_images
from ..model import as_target_model
from ..overlap import computed_ahead
from .counts import THUMBNAIL, DisplayImages, Examples, SparseCounts, display_pixels, thumbnails
from .fields import ReceptiveField, receptive_fields
from .graph import AttributionGraph, GraphNode, personalised_pagerank
from .layers import ConvolutionPath, default_layers, resolve_layers, single_convolution
from .probe import INFLUENCES, INTO, SummitProbe, kept_channels
from .summary import FORMAT_VERSION, Summary, SummaryBuilder


def summarize(model, data, layers=None, *, strategy=None, batch_size=None, mass=0.5, top_channels=8,
              top_k=5, influence="gradient", into="all", examples=5, progress=True):
    """Summit summaries of a labelled data set: activation and influence counts per class.

    One pass over ``data``, in batches; memory is bounded by classes ×
    channels (plus the sparse influence counts and the top examples), never by
    the number of images.

    Args:
        model: a Keras model ending in logits.
        data: ``(images, labels)`` arrays or a ``tf.data.Dataset`` of
            ``(image, label)`` pairs, unbatched or batched.
        layers: names (or layer objects) of the layers to summarise, in graph
            order. ``None`` applies the rule of `default_layers`: the last
            feature map of every spatial resolution after the first
            convolution, at most the 4 deepest.
        strategy: a ``tf.distribute.Strategy``; results equal one device's.
        batch_size: images per replica and step; ``None`` uses 32. The
            data is cut into units of this size, computed the same way on any
            number of replicas.
        mass: share of an image's total (normalised) channel maxima that its
            counted channels must reach, in (0, 1].
        top_channels: at most this many channels counted per image and layer
            (with ``into="kept"``, layers joined by blocks cost one backward
            pass per counted channel).
        top_k: previous-layer channels counted per next-layer channel and image.
        influence: ``"gradient"`` (activation × gradient, any blocks between
            the layers) or ``"summit"`` (the paper's definition; consecutive
            layers must be joined by one ``Conv2D``).
        into: which next-layer channels influence is counted into: ``"all"``
            (every channel, as in Summit) or ``"kept"`` (each image's kept
            channels only: those the activation matrix counts). ``"kept"`` is
            cheaper for layers joined by blocks (``top_channels`` backward
            passes instead of one forward-mode pass per previous channel): on
            the bundled ``shapes_resnet`` (16 and 32 channels) the default
            costs about 7.7× a forward + backward pass and ``"kept"`` 2.6×;
            with hundreds of channels per stage, as in ResNet50, use
            ``"kept"``. Layers joined by one convolution cost about 1.2–1.3×
            either way.
        examples: top images kept per channel (with their receptive-field crop).
        progress: ``True`` shows a tqdm bar if tqdm is installed;
            a callable is called as ``progress(images_done, images_total)``
            (``images_total`` may be ``None``); ``False`` stays silent.

    Returns:
        A `Summary`.

    Example:
        >>> images, labels, _ = xw.zoo.shapes(2000)
        >>> summary = xw.summarize(xw.zoo.load("shapes_resnet"), (images, labels))
        >>> summary.activations[-1][labels[0]]     # counts of the last layer's channels
        >>> summary.graph(0).nodes[:3]
    """
    _check_options(mass, top_channels, top_k, influence, into, examples)
    target = as_target_model(model)
    if target.keras_model is None:
        raise ValueError("summarize needs a Keras model (it reads intermediate layers); got a plain callable.")
    keras_model = target.keras_model
    chosen = resolve_layers(keras_model, layers)
    probe = SummitProbe.cached(keras_model, chosen, influence, into, mass, top_channels, top_k)
    fields = receptive_fields(keras_model, chosen)
    builder = SummaryBuilder(keras_model, chosen, fields, target.num_classes, into, examples)
    runner = probe.runner(strategy, DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
    report = _progress_reporter(progress, count_images(data))
    try:
        host_batches = batches(data, target, runner.global_batch, labels_required=True)
        # the next batch is probed while this one is counted (numpy), in the order of the data
        for (images, labels), results in computed_ahead(host_batches, lambda batch: runner.run(probe.step, batch[0]),
                                                        name="xai-widgets-summit"):
            builder.check_labels(labels)
            builder.add(images, labels, results)
            report(builder.images)
    finally:
        report(None)
    return builder.summary(dict(mass=mass, top_channels=top_channels, top_k=top_k, influence=influence,
                                into=into, examples=examples))


def _check_options(mass, top_channels, top_k, influence, into, examples):
    if isinstance(mass, bool) or not isinstance(mass, (int, float)) or not 0 < mass <= 1:
        raise ValueError(f"mass must be a number in (0, 1], the share of activation to count; got {mass!r}.")
    for name, value in (("top_channels", top_channels), ("top_k", top_k), ("examples", examples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    if influence not in INFLUENCES:
        raise ValueError(f"influence must be one of {INFLUENCES}; got {influence!r}.")
    if into not in INTO:
        raise ValueError(f"into must be 'all' (count influence into every next-layer channel) or 'kept' (only "
                         f"into each image's kept channels); got {into!r}.")


def _progress_reporter(progress, total):
    """``report(images_done)`` during the run and ``report(None)`` at its end."""
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return lambda done: None
        bar = tqdm(total=total, unit="image", desc="summarize")
        return lambda done: bar.close() if done is None else bar.update(done - bar.n)
    if callable(progress):
        return lambda done: None if done is None else progress(done, total)
    if progress in (False, None):
        return lambda done: None
    raise ValueError(f"progress must be True, False or a callable progress(done, total); got {progress!r}.")


__all__ = [
    "FORMAT_VERSION", "INFLUENCES", "INTO", "THUMBNAIL", "AttributionGraph", "ConvolutionPath", "DisplayImages",
    "Examples", "GraphNode", "ReceptiveField", "SparseCounts", "SummitProbe", "Summary", "SummaryBuilder",
    "default_layers", "display_pixels", "kept_channels", "personalised_pagerank", "receptive_fields",
    "resolve_layers", "single_convolution", "summarize", "thumbnails",
]
