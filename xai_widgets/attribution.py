"""`Attribution`: the result every method returns, partial or final."""

from dataclasses import dataclass, field, replace

import numpy as np

from . import render


@dataclass(eq=False)
class Attribution:
    """Attribution values for one image or a batch, with what produced them.

    For one image ``x`` of shape ``(H, W, C)`` the per-image fields (``target``,
    ``outputs``, ``baseline_outputs``, ``delta``) are scalars; for a batch
    ``(N, H, W, C)`` they are arrays of length ``N``.

    Attributes:
        values: float32 attributions, the shape of ``x`` (Grad-CAM: ``(..., H, W, 1)``).
        method: the method's name, e.g. ``"integrated_gradients"``.
        target: the explained class of each image.
        outputs: F(x), the target logit of each image.
        options: the options the method ran with.
        baseline_outputs: F(x′) for methods with a baseline, else ``None``.
        delta: the completeness gap Σᵢ Aᵢ − (F(x) − F(x′)) per image, for
            methods that have the property (IG, DeepLIFT), else ``None``.
        progress: in (0, 1]; below 1 for partial results of ``stream()``.
        step, total: how many steps (IG α-steps, SmoothGrad samples, …) are in
            this result, and how many the full computation has.
        evaluations: gradient evaluations per image spent so far.
        info: method-specific figures (e.g. IG's path outputs along α).
    """

    values: np.ndarray
    method: str
    target: object
    outputs: object
    options: dict = field(default_factory=dict)
    baseline_outputs: object = None
    delta: object = None
    progress: float = 1.0
    step: int = 1
    total: int = 1
    evaluations: int = 0
    info: dict = field(default_factory=dict)

    @classmethod
    def from_batch(cls, single, values, target, outputs, baseline_outputs=None, delta=None, **fields):
        """Build from batched arrays, dropping the batch axis when ``x`` was one image."""
        def unbatch(array):
            if array is None:
                return None
            array = np.asarray(array)
            return array[0] if single else array

        return cls(
            values=unbatch(np.asarray(values, dtype=np.float32)),
            target=unbatch(target),
            outputs=unbatch(outputs),
            baseline_outputs=unbatch(baseline_outputs),
            delta=unbatch(delta),
            **fields,
        )

    @property
    def is_batch(self):
        return np.ndim(self.target) == 1

    def with_values(self, values, **changes):
        """A copy with other values (and optionally other fields)."""
        return replace(self, values=np.asarray(values, dtype=np.float32), **changes)

    # ---------------------------------------------------------- visualisation
    def heatmap(self, aggregate="max_abs", clip=99.5, signed=False):
        """The normalised 2-D map(s): ``(H, W)`` or ``(N, H, W)``.

        Args:
            aggregate: ``"max_abs"`` (max over channels of |A|, the seed
                article's saliency visualisation), ``"sum"`` or ``"l2"``.
            clip: percentile of |map| that maps to 1; larger values are clipped.
            signed: keep the sign (values in [-1, 1]) instead of magnitudes ([0, 1]).
        """
        return render.heatmap(self.values, aggregate, clip, signed)

    def overlay(self, image, cmap=None, alpha=0.5, aggregate="max_abs", clip=99.5, signed=False):
        """The heatmap drawn over ``image`` as RGB floats in [0, 1].

        Args:
            image: the explained image(s), same height and width as ``values``.
            cmap: a matplotlib colormap name (default ``"inferno"``, signed ``"bwr"``).
            alpha: opacity of the heatmap.
        """
        maps = self.heatmap(aggregate, clip, signed)
        return render.overlay(image, maps, cmap, alpha, signed)

    def plot(self, ax=None, image=None, index=0, cmap=None, alpha=0.5, aggregate="max_abs",
             clip=99.5, signed=False, colorbar=True):
        """Draw the heatmap (over ``image`` if given) with matplotlib; returns the axes.

        For a batch, ``index`` chooses the image.
        """
        import matplotlib.pyplot as plt

        maps = self.heatmap(aggregate, clip, signed)
        if self.is_batch:
            maps = maps[index]
            image = None if image is None else np.asarray(image)[index] if np.ndim(image) == 4 else image
        if ax is None:
            _, ax = plt.subplots(figsize=(4, 4))
        name = cmap or render.default_cmap(signed)
        limits = (-1, 1) if signed else (0, 1)
        if image is not None:
            ax.imshow(render.as_display_image(image), interpolation="nearest")
            shown = ax.imshow(maps, cmap=name, alpha=alpha, vmin=limits[0], vmax=limits[1], interpolation="nearest")
        else:
            shown = ax.imshow(maps, cmap=name, vmin=limits[0], vmax=limits[1], interpolation="nearest")
        if colorbar:
            ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(self.method.replace("_", " "))
        ax.set_axis_off()
        return ax

    def to_png(self, path, image=None, index=0, cmap=None, alpha=0.5, aggregate="max_abs", clip=99.5,
               signed=False):
        """Write the heatmap (over ``image`` if given) as a PNG file, one pixel per input pixel."""
        from PIL import Image

        maps = self.heatmap(aggregate, clip, signed)
        if self.is_batch:
            maps = maps[index]
            if image is not None and np.ndim(image) == 4:
                image = np.asarray(image)[index]
        if image is None:
            rgb = render.colorize(maps, cmap, signed)
        else:
            rgb = render.overlay(image, maps, cmap, alpha, signed)
        Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(path, format="PNG")
        return path

    def __repr__(self):
        shape = tuple(np.shape(self.values))
        parts = [f"method={self.method!r}", f"values={shape}", f"target={_brief(self.target)}"]
        if self.delta is not None:
            parts.append(f"delta={_brief(self.delta)}")
        if self.progress < 1:
            parts.append(f"progress={self.progress:.2f}")
        return f"Attribution({', '.join(parts)})"


def _brief(value):
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():.4g}" if array.dtype.kind == "f" else str(array.item())
    text = np.array2string(array[:4], precision=4, separator=", ")
    return text[:-1] + ", …]" if len(array) > 4 else text
