"""SmoothGrad (Smilkov et al., 2017), SmoothGrad² and VarGrad (Adebayo et al., 2018).

The gradient is averaged over noisy copies of the input,

    SmoothGrad:   M(x) = 1/n · Σ_s ∇F(x + ε_s),
    SmoothGrad²:  M(x) = 1/n · Σ_s ∇F(x + ε_s)²   (elementwise square),
    VarGrad:      M(x) = 1/n · Σ_s (∇F(x + ε_s) − SmoothGrad(x))²,

with ε_s ~ N(0, σ²I) and σ = noise · (max(x) − min(x)), the noise level as
a fraction of each input's value range as in Smilkov et al.

Antithetic sampling, the default, draws the noise in pairs (ε, −ε): the
two halves of a pair cancel the odd terms of the gradient's expansion
around x. Measured on the bundled ``shapes_cnn`` at noise 0.15
(``benchmarks/gradient_methods.py``, 20 images × 4 seeds), the running mean
reached a correlation of 0.95 with a 1000-sample reference after a median
of 308 samples with antithetic pairs against 331 with i.i.d. noise — a small
but consistent gain — and pairs need half as many random numbers, which on
a small CNN are a noticeable share of the cost.
"""

import functools
import numbers

import numpy as np

from .._backend import tf
from ..model import AffineRows
from .base import Explainer

VARIANTS = ("mean", "square", "var")
SAMPLINGS = ("antithetic", "iid")


class SmoothGrad(Explainer):
    """SmoothGrad, SmoothGrad² or VarGrad of the target logit.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        samples: number of noisy copies n per image, an int ≥ 1.
        noise: σ as a fraction of each input's (max − min), a float ≥ 0
            (0 gives the plain saliency map).
        seed: an int makes the noise (and so the map) reproducible; ``None``
            draws fresh noise on every call.
        variant: ``"mean"`` (SmoothGrad), ``"square"`` (SmoothGrad²) or
            ``"var"`` (VarGrad, never negative).
        sampling: ``"antithetic"`` (default: noise pairs (ε, −ε), which
            converge faster — see the module doc) or ``"iid"``.
        batch_size: inputs per compiled gradient call; ``None`` chooses it by timing.

    The noise of sample s is shared by all images of a batch (scaled to each
    image's σ): each image's map has the same distribution as with separate
    noise, and drawing it once per sample keeps the cost of random numbers
    small next to the gradients.

    ``stream()`` yields the running statistic after each chunk of samples;
    ``step`` is the number of samples every image has so far.

    Example:
        >>> a = xw.SmoothGrad(model, samples=32, noise=0.1, seed=0)(image)
        >>> a.heatmap(aggregate="max_abs")
    """

    method = "smoothgrad"

    def check_options(self, samples=50, noise=0.15, seed=None, variant="mean", sampling="antithetic"):
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be an int ≥ 1; got {samples!r}.")
        if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
            raise ValueError(f"noise must be a number ≥ 0 (a fraction of each input's value range); got {noise!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None; got {seed!r}.")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}.")
        if sampling not in SAMPLINGS:
            raise ValueError(f"unknown sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}.")
        return dict(samples=int(samples), noise=float(noise), seed=seed, variant=variant, sampling=sampling)

    def _partials(self, images, targets, logits):
        samples, count = self.options["samples"], len(images)
        outputs = None
        flat_images = images.reshape(count, -1)
        sigmas = self.options["noise"] * (flat_images.max(axis=1) - flat_images.min(axis=1))
        noise = NoiseSource(self.options["seed"], images.shape[1:], self.options["sampling"] == "antithetic")
        bases, sigmas = tf.constant(images), sigmas.astype(np.float32)  # every chunk shares the images

        def noisy_copies(start, stop):  # rows are sample-major: row = s·N + i, the copy x_i + σ_i ε_s
            samples_in_chunk, images_in_chunk = np.divmod(np.arange(start, stop), count)
            first = samples_in_chunk[0]
            vectors = np.stack([noise.vector(sample) for sample in range(first, samples_in_chunk[-1] + 1)])
            return (bases, vectors.reshape(-1, *images.shape[1:]), images_in_chunk.astype(np.int32),
                    (samples_in_chunk - first).astype(np.int32), sigmas[images_in_chunk])

        inputs = AffineRows(samples * count, images.shape[1:], noisy_copies)
        statistic = RunningStatistic(self.options["variant"], count, flat_images.shape[1])
        reported = 0
        for start, stop, grads, _ in self.model.gradients(inputs, np.tile(targets, samples), self.batch_size):
            if outputs is None:  # F(x) by a forward pass that overlaps the next chunk's gradients
                logits = self.model.logits(images, self.batch_size) if logits is None else logits
                outputs = logits[np.arange(count), targets]
            statistic.add(start, grads.reshape(stop - start, -1))
            complete = stop // count
            if complete > reported:
                reported = complete
                yield functools.partial(_partial, statistic, images.shape, outputs, complete, samples)


def _partial(statistic, shape, outputs, complete, samples):
    """The fields of the partial after ``complete`` samples of every image."""
    return dict(values=statistic.values().reshape(shape), outputs=outputs, progress=complete / samples,
                step=complete, total=samples, evaluations=complete)


class NoiseSource:
    """Standard normal noise vectors ε_0, ε_1, … drawn in order from one seeded stream.

    Vector s is the same however the samples are split into chunks, so a
    seeded map does not depend on the chunk size. With ``antithetic``,
    ε_{2j+1} = −ε_{2j}. Only the latest vector (or pair) is kept.
    """

    def __init__(self, seed, sample_shape, antithetic):
        self.rng = np.random.default_rng(seed)
        self.size = int(np.prod(sample_shape))
        self.antithetic = antithetic
        self.index, self.latest = -1, None  # index of the latest draw (a sample, or a pair when antithetic)

    def vector(self, sample):
        """ε_sample (float32, flat); samples must come in non-decreasing order."""
        index = sample // 2 if self.antithetic else sample
        if index < self.index:
            raise ValueError("noise vectors must be asked for in order")
        while self.index < index:
            self.latest, self.index = standard_normal(self.rng, self.size), self.index + 1
        return -self.latest if self.antithetic and sample % 2 else self.latest


def standard_normal(rng, size):
    """A vector of ``size`` standard normal float32 values (Box–Muller).

    Why not ``rng.standard_normal``: numpy's float32 ziggurat costs ~11 ns
    per value on our 2-core test machine against ~4 ns for the vectorised
    Box–Muller transform, and for a small CNN the noise would otherwise cost
    a fifth of the gradients it is averaged over. Uniforms u, v in [0, 1)
    give r = √(−2 ln(1 − u)) and the pair (r cos 2πv, r sin 2πv).
    """
    half = (size + 1) // 2
    radius, angle = rng.random((2, half), dtype=np.float32)
    np.log1p(-radius, out=radius)
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle *= np.float32(2.0 * np.pi)
    vector = np.empty(2 * half, dtype=np.float32)
    np.multiply(radius, np.cos(angle), out=vector[:half])
    np.multiply(radius, np.sin(angle), out=vector[half:])
    return vector[:size]


class RunningStatistic:
    """The running mean, mean square or variance of per-image gradient samples.

    Rows arrive sample-major (row = s·N + i). A chunk of whole samples is
    merged for all images at once; otherwise image by image. The variance
    merges chunk statistics with Chan et al.'s update, which adds only
    squares and so never goes negative.
    """

    def __init__(self, variant, images, size):
        self.variant, self.images = variant, images
        self.counts = np.zeros(images, dtype=np.int64)
        self.means = np.zeros((images, size), dtype=np.float32)
        self.squares = np.zeros((images, size), dtype=np.float32)  # Σ g² ("square") or Σ (g − mean)² ("var")

    def add(self, start, gradients):
        if start % self.images == 0 and len(gradients) % self.images == 0:
            self._merge(slice(None), gradients.reshape(-1, self.images, gradients.shape[-1]))
            return
        for offset in range(min(self.images, len(gradients))):
            image = (start + offset) % self.images
            self._merge(slice(image, image + 1), gradients[offset::self.images, np.newaxis])

    def _merge(self, images, block):
        """Merge ``block`` ``(samples, images, D)`` of the same number of new samples per image."""
        count, added = self.counts[images][:, np.newaxis], len(block)
        total = count + added
        if self.variant == "mean":
            self.means[images] += (block.sum(axis=0) - added * self.means[images]) / total.astype(np.float32)
        elif self.variant == "square":
            self.squares[images] += np.einsum("snd,snd->nd", block, block)
        else:
            block_mean = block.mean(axis=0)
            shift = block_mean - self.means[images]
            between = np.square(shift) * (count * added / total).astype(np.float32)
            centred = block - block_mean
            self.squares[images] += np.einsum("snd,snd->nd", centred, centred) + between
            self.means[images] += shift * (added / total).astype(np.float32)
        self.counts[images] = total[:, 0]

    def values(self):
        if self.variant == "mean":
            return self.means.copy()
        return self.squares / self.counts[:, np.newaxis].astype(np.float32)


def smoothgrad(model, x, target=None, *, samples=50, noise=0.15, seed=None, variant="mean", batch_size=None,
               **options):
    """SmoothGrad (Smilkov et al., 2017): the gradient averaged over noisy copies of ``x``.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
        target: class index, one per image, or ``None`` for the arg-max class.
        samples: noisy copies per image.
        noise: σ as a fraction of each input's (max − min).
        seed: an int for reproducible noise, ``None`` for fresh noise.
        variant: ``"mean"`` (SmoothGrad), ``"square"`` (SmoothGrad²) or ``"var"`` (VarGrad).
        batch_size: inputs per compiled gradient call; ``None`` chooses it.
        **options: ``sampling`` (``"antithetic"``, the default, or ``"iid"``), ``output``.

    Returns:
        `Attribution` with ``values`` of the shape of ``x``.

    Example:
        >>> a = xw.smoothgrad(model, image, samples=50, noise=0.15, seed=0)
        >>> a.plot(image=image)
    """
    return SmoothGrad(model, samples=samples, noise=noise, seed=seed, variant=variant, batch_size=batch_size,
                      **options)(x, target)
