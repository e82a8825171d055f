"""From attribution values to pictures: channel aggregation, normalisation,
colormaps, overlays and PNG files. numpy and matplotlib only.

The seed article's visualisation of a saliency map is ``m_ij = max_k |M_ijk|``
followed by a normalisation; that is ``heatmap(values, "max_abs")`` here.
"""

import numpy as np

AGGREGATES = ("max_abs", "sum", "l2")


def aggregate_channels(values, aggregate="max_abs", signed=False):
    """Reduce the trailing channel axis: ``(..., H, W, C) -> (..., H, W)``.

    ``max_abs`` is max_k |v_k| (signed: the v_k with the largest |v_k|),
    ``sum`` is Σ_k v_k (absolute value unless signed), ``l2`` is ‖v‖₂ (no sign).
    """
    values = np.asarray(values, dtype=np.float32)
    if aggregate == "max_abs":
        if not signed:
            return np.abs(values).max(axis=-1)
        index = np.abs(values).argmax(axis=-1)[..., np.newaxis]
        return np.take_along_axis(values, index, axis=-1)[..., 0]
    if aggregate == "sum":
        total = values.sum(axis=-1)
        return total if signed else np.abs(total)
    if aggregate == "l2":
        if signed:
            raise ValueError("aggregate='l2' has no sign; use signed=False, or aggregate='sum' for signed maps.")
        return np.sqrt(np.square(values).sum(axis=-1))
    raise ValueError(f"aggregate must be one of {AGGREGATES}; got {aggregate!r}.")


def normalise(maps, clip=99.5, signed=False):
    """Scale each ``(H, W)`` map by its ``clip`` percentile of |m| into [0, 1] ([-1, 1] if signed).

    Values beyond the percentile are clipped, so a few extreme pixels do not
    wash out the rest. An all-zero map stays zero.
    """
    if not 0 < clip <= 100:
        raise ValueError(f"clip must be a percentile in (0, 100]; got {clip!r}.")
    maps = np.asarray(maps, dtype=np.float32)
    flat = np.abs(maps).reshape(*maps.shape[:-2], -1)
    scale = np.percentile(flat, clip, axis=-1)[..., np.newaxis, np.newaxis]
    scale = np.where(scale > 0, scale, 1.0)
    low = -1.0 if signed else 0.0
    return np.clip(maps / scale, low, 1.0).astype(np.float32)


def heatmap(values, aggregate="max_abs", clip=99.5, signed=False):
    """Aggregate channels, then normalise: ``(..., H, W, C) -> (..., H, W)``."""
    return normalise(aggregate_channels(values, aggregate, signed), clip, signed)


def colorize(maps, cmap=None, signed=False):
    """Map normalised maps to RGB floats ``(..., H, W, 3)`` with a matplotlib colormap."""
    from matplotlib import colormaps

    name = cmap or default_cmap(signed)
    try:
        colormap = colormaps[name] if isinstance(name, str) else name
    except KeyError:
        raise ValueError(f"unknown matplotlib colormap {name!r}.") from None
    unit = (np.asarray(maps) + 1.0) / 2.0 if signed else np.asarray(maps)
    return colormap(unit)[..., :3].astype(np.float32)


def default_cmap(signed):
    return "bwr" if signed else "inferno"


def overlay(image, maps, cmap=None, alpha=0.5, signed=False):
    """Blend colorized maps over ``image`` (values in [0, 1] or [0, 255]); returns RGB in [0, 1]."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha!r}.")
    base = as_display_image(image)
    colors = colorize(maps, cmap, signed)
    if base.shape[:-1] != colors.shape[:-1]:
        raise ValueError(f"image of shape {np.shape(image)} does not match the heatmap of shape {np.shape(maps)}.")
    return ((1.0 - alpha) * base + alpha * colors).astype(np.float32)


def as_display_image(image):
    """An image as RGB floats in [0, 1]: grey is repeated, [0, 255] is rescaled."""
    base = np.asarray(image, dtype=np.float32)
    if base.shape[-1] == 1:
        base = np.repeat(base, 3, axis=-1)
    if base.shape[-1] != 3:
        raise ValueError(f"image must have 1 or 3 channels; got shape {base.shape}.")
    low, high = float(base.min()), float(base.max())
    if low < 0.0 or high > 1.0:
        base = (base - low) / (high - low) if high > low else np.zeros_like(base)
    return base
