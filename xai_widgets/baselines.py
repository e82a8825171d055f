"""Reference inputs x′ for path methods (Integrated Gradients, DeepLIFT).

A baseline is "an input without information" (Sundararajan et al., 2017).
Which one is right depends on the data, so several are offered:

- ``"black"`` / ``"white"``: the low / high end of the images' value range,
- ``"blur"``: the image under a Gaussian blur (``blur_sigma`` pixels),
- ``"noise"``: uniform noise over the value range (seeded),
- ``"mean"``: each image's mean colour everywhere,
- a float: that constant,
- an array of an image's shape, of the batch's shape, or a stack of K
  baselines ``(K, H, W, C)`` (one image) / ``(K, N, H, W, C)`` (a batch) whose
  attributions are averaged (expected-gradients style).

The value range is taken from the data unless given: images within [0, 1]
give (0, 1), within [0, 255] give (0, 255), within [-1, 1] give (-1, 1);
otherwise the batch's own min and max.
"""

import numpy as np

NAMED = ("black", "white", "blur", "noise", "mean")


def resolve_baseline(baseline, images, single=False, *, blur_sigma=5.0, seed=None, value_range=None):
    """Return baselines of shape ``(K, N, H, W, C)`` (float32) for ``images`` ``(N, H, W, C)``.

    Args:
        baseline: a name from ``NAMED``, a float, or an array (see the module doc).
        images: the prepared float32 batch.
        single: whether the user passed one image (decides how a 4-D array reads).
        blur_sigma: Gaussian sigma in pixels for ``"blur"``.
        seed: seed of ``"noise"``.
        value_range: ``(low, high)`` of the data, or ``None`` to infer it.
    """
    low, high = value_range if value_range is not None else infer_value_range(images)
    if isinstance(baseline, str):
        if baseline == "black":
            stack = np.full_like(images, low)
        elif baseline == "white":
            stack = np.full_like(images, high)
        elif baseline == "blur":
            stack = gaussian_blur(images, _positive(blur_sigma, "blur_sigma"))
        elif baseline == "noise":
            stack = np.random.default_rng(seed).uniform(low, high, size=images.shape)
        elif baseline == "mean":
            stack = np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape)
        else:
            raise ValueError(f"unknown baseline {baseline!r}; use one of {NAMED}, a float or an array.")
        return np.asarray(stack, dtype=np.float32)[np.newaxis]
    return _array_baseline(baseline, images, single)


def _array_baseline(baseline, images, single):
    if isinstance(baseline, bool):
        raise ValueError("baseline must be a name, a float or an array; got a bool.")
    array = np.asarray(baseline, dtype=np.float32) if not hasattr(baseline, "numpy") else baseline.numpy()
    array = np.asarray(array, dtype=np.float32)
    sample = images.shape[1:]
    if array.ndim == 0:
        stack = np.full_like(images, float(array))[np.newaxis]
    elif array.shape == sample:
        stack = np.broadcast_to(array, images.shape)[np.newaxis]
    elif array.ndim == 4 and array.shape[1:] == sample:
        # one image: a stack of K baselines; a batch: one baseline per image
        stack = array[:, np.newaxis] if single else _per_image(array, images)
    elif array.ndim == 5 and array.shape[1:] == images.shape:
        stack = array
    else:
        raise ValueError(
            f"baseline of shape {array.shape} does not fit images of shape {images.shape}: pass one image "
            f"{sample}, one per image {images.shape}, or a stack (K, {', '.join(map(str, images.shape))})."
        )
    if not np.isfinite(stack).all():
        raise ValueError("baseline contains NaN or Inf values.")
    return np.ascontiguousarray(stack, dtype=np.float32)


def _per_image(array, images):
    if len(array) != len(images):
        raise ValueError(
            f"baseline has {len(array)} images but x has {len(images)}; pass one baseline per image, "
            f"one image {images.shape[1:]}, or a stack (K, {', '.join(map(str, images.shape))})."
        )
    return array[np.newaxis]


def infer_value_range(images):
    """The value range the images live in (see the module doc)."""
    low, high = float(images.min()), float(images.max())
    for candidate in ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)):
        if candidate[0] <= low and high <= candidate[1]:
            return candidate
    return low, high


def gaussian_blur(images, sigma):
    """Separable Gaussian blur of ``(N, H, W, C)`` images over H and W (reflecting edges)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    blurred = np.asarray(images, dtype=np.float64)
    for axis in (1, 2):
        padding = [(0, 0)] * blurred.ndim
        padding[axis] = (radius, radius)
        padded = np.pad(blurred, padding, mode="reflect" if blurred.shape[axis] > radius else "edge")
        blurred = sum(weight * np.take(padded, np.arange(shift, shift + blurred.shape[axis]), axis=axis)
                      for shift, weight in enumerate(kernel))
    return blurred.astype(np.float32)


def _positive(value, name):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    return float(value)
