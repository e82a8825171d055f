"""Sensitivity maps: saliency (Simonyan et al., 2014) and gradient × input.

Saliency is the gradient of the target score with respect to the input,

    A_i(x) = ∂F(x) / ∂x_i,

returned raw in ``.values``; the article's picture, max_k |A_ijk| normalised,
is ``Attribution.heatmap(aggregate="max_abs")``. Gradient × input multiplies
it elementwise with the input: A_i(x) = x_i · ∂F(x)/∂x_i (Shrikumar et al., 2016).
"""

import numpy as np

from .base import Explainer


class Saliency(Explainer):
    """The raw input gradient ∂F/∂x of the target logit.

    Example:
        >>> a = xw.Saliency(model)(image)
        >>> a.heatmap(aggregate="max_abs")   # the seed article's saliency map
    """

    method = "saliency"
    argmax_in_gradient_pass = True

    def _partials(self, images, targets, logits):
        gradients, outputs = gradient_batch(self.model, images, targets, self.batch_size)
        yield dict(values=self.combine(images, gradients), outputs=outputs, evaluations=1)

    def combine(self, images, gradients):
        return gradients


class GradientXInput(Saliency):
    """Gradient × input: A = x ⊙ ∂F/∂x."""

    method = "gradient_x_input"

    def combine(self, images, gradients):
        return images * gradients


def gradient_batch(model, inputs, targets, batch_size=None):
    """All gradients and target outputs of ``inputs`` at once (writable numpy arrays)."""
    gradients = outputs = None
    for start, stop, grads, values in model.gradients(inputs, targets, batch_size):
        if stop - start == len(inputs):  # one chunk holds them all: one copy of the read-only views
            return grads.copy(), values.copy()
        if gradients is None:
            gradients = np.empty(inputs.shape, dtype=np.float32)  # inputs may be AffineRows
            outputs = np.empty(len(inputs), dtype=np.float32)
        gradients[start:stop], outputs[start:stop] = grads, values
    return gradients, outputs


def saliency(model, x, target=None, **options):
    """Saliency map (Simonyan et al., 2014): the raw gradient ∂F/∂x.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
        target: class index, one per image, or ``None`` for the arg-max class.
        **options: ``batch_size``, ``output``.

    Returns:
        `Attribution` with ``values`` of the shape of ``x``.

    Example:
        >>> a = xw.saliency(model, image)
        >>> a.plot(image=image)
    """
    return Saliency(model, **options)(x, target)


def gradient_x_input(model, x, target=None, **options):
    """Gradient × input: x ⊙ ∂F/∂x. Arguments as in `saliency`."""
    return GradientXInput(model, **options)(x, target)
