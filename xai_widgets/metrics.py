"""Scoring attribution maps: localisation against ground-truth masks, and
deletion / insertion curves (Petsiuk et al., 2018). numpy only.

The bundled data set ``xw.zoo.shapes`` comes with a mask of the object that
decides each image's class, so a method can be scored by how much of its
attribution mass lands on that object:

    mass_in_mask = Σ_{i ∈ mask} |m_i| / Σ_i |m_i|

and by the pointing game (does the strongest pixel hit the object?).
Deletion removes the most relevant pixels first and watches the target score
fall; insertion adds them to a blank image and watches it rise. A faithful map
gives a low area under the deletion curve and a high one under insertion.
"""

import numpy as np

from . import render


def _maps(attribution, aggregate):
    """2-D maps ``(N, H, W)`` from an `Attribution`, attribution values ``(N, H, W, C)`` or maps."""
    values = getattr(attribution, "values", attribution)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 2:
        return values[np.newaxis]
    if values.ndim == 3 and getattr(attribution, "is_batch", None) is False:
        values = values[np.newaxis]
    if values.ndim == 4:
        return render.aggregate_channels(values, aggregate)
    if values.ndim == 3:
        return values
    raise ValueError(f"expected maps (H, W) / (N, H, W) or values (N, H, W, C); got shape {values.shape}.")


def _masks(masks, shape):
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim == 2:
        masks = masks[np.newaxis]
    if masks.shape != shape:
        raise ValueError(f"masks of shape {masks.shape} do not match the maps of shape {shape}.")
    return masks


def mass_in_mask(attribution, masks, aggregate="max_abs"):
    """Fraction of |attribution| mass inside each mask, in [0, 1] per image.

    Args:
        attribution: an `Attribution`, values ``(N, H, W, C)``, or maps ``(N, H, W)``.
        masks: boolean ``(N, H, W)`` (or ``(H, W)`` for one image).
        aggregate: how channels are reduced (see `Attribution.heatmap`).

    Returns:
        float array ``(N,)``; an all-zero map scores 0.

    Example:
        >>> images, labels, masks = xw.zoo.shapes(16)
        >>> xw.metrics.mass_in_mask(xw.saliency(model, images), masks).mean()
    """
    maps = np.abs(_maps(attribution, aggregate))
    masks = _masks(masks, maps.shape)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = (maps * masks).reshape(len(maps), -1).sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


def pointing_game(attribution, masks, aggregate="max_abs"):
    """Whether each map's strongest pixel lies inside its mask: bool ``(N,)``."""
    maps = np.abs(_maps(attribution, aggregate))
    masks = _masks(masks, maps.shape)
    strongest = maps.reshape(len(maps), -1).argmax(axis=1)
    return masks.reshape(len(masks), -1)[np.arange(len(maps)), strongest]


def relevance_order(attribution, aggregate="max_abs"):
    """Pixel indices ``(N, H·W)`` from the most to the least relevant (by |map|)."""
    maps = np.abs(_maps(attribution, aggregate))
    return np.argsort(-maps.reshape(len(maps), -1), axis=1, kind="stable")


def deletion_curve(score, images, attribution, targets, steps=20, baseline=0.0, aggregate="max_abs"):
    """Target score as the most relevant pixels are replaced by ``baseline``.

    Args:
        score: callable ``images (M, H, W, C) -> logits (M, classes)`` (numpy
            in, numpy out), e.g. ``lambda x: model.predict(x, verbose=0)``.
        images: ``(N, H, W, C)`` (or one image).
        attribution: the maps to test (see `mass_in_mask`).
        targets: int or ``(N,)`` classes whose score is followed.
        steps: number of deletion steps; step k removes k/steps of the pixels.
        baseline: value (or array broadcastable to an image) that replaces pixels.

    Returns:
        ``(fractions (steps + 1,), scores (N, steps + 1))``.
    """
    return _perturbation_curve(score, images, attribution, targets, steps, baseline, aggregate, insert=False)


def insertion_curve(score, images, attribution, targets, steps=20, baseline=0.0, aggregate="max_abs"):
    """Target score as the most relevant pixels are inserted into ``baseline``.

    Arguments and return value as in `deletion_curve`.
    """
    return _perturbation_curve(score, images, attribution, targets, steps, baseline, aggregate, insert=True)


def area_under_curve(fractions, scores):
    """Trapezoidal area under each curve, ``(N,)``."""
    scores = np.asarray(scores, dtype=np.float64)
    widths = np.diff(np.asarray(fractions, dtype=np.float64))
    return ((scores[..., 1:] + scores[..., :-1]) / 2 * widths).sum(axis=-1)


def _perturbation_curve(score, images, attribution, targets, steps, baseline, aggregate, insert):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[np.newaxis]
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}.")
    order = relevance_order(attribution, aggregate)
    count, height, width, channels = images.shape
    if order.shape != (count, height * width):
        raise ValueError(f"the maps do not match the images of shape {images.shape}.")
    targets = np.broadcast_to(np.asarray(targets, dtype=int), (count,))
    blank = np.broadcast_to(np.asarray(baseline, dtype=np.float32), images.shape[1:])
    fractions = np.linspace(0.0, 1.0, steps + 1)
    ranks = np.empty_like(order)
    ranks[np.arange(count)[:, np.newaxis], order] = np.arange(height * width)
    scores = np.empty((count, steps + 1), dtype=np.float32)
    for step, fraction in enumerate(fractions):
        chosen = (ranks < round(fraction * height * width)).reshape(count, height, width, 1)
        keep_image = chosen if insert else ~chosen
        perturbed = np.where(keep_image, images, blank)
        logits = np.asarray(score(perturbed))
        scores[:, step] = logits[np.arange(count), targets]
    return fractions, scores
