"""Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++ (Chattopadhyay et al., 2018).

Both weight the feature maps A^k (k over channels) of a convolutional layer
by how much the target logit y depends on them, and keep the positive part:

    Grad-CAM:    w_k = 1/Z · Σ_ij ∂y/∂A^k_ij,
    Grad-CAM++:  w_k = Σ_ij a^k_ij · ReLU(∂y/∂A^k_ij),
                 a^k_ij = g² / (2g² + Σ_ab A^k_ab · g³),  g = ∂y/∂A^k_ij,
    map:         L = ReLU(Σ_k w_k A^k).

Grad-CAM++'s coefficients are the paper's closed form for an exponential
output exp(y), whose higher derivatives are powers of the first one. The map
L has the layer's resolution (h, w); it is upsampled bilinearly to the
input's (H, W), so ``.values`` has shape ``(H, W, 1)`` for one image and
``(N, H, W, 1)`` for a batch — one channel, since a class activation map
says where, not in which colour channel.
"""

import numpy as np

from .._backend import keras, tf
from ..model import layer_output
from .base import Explainer

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
                keras.layers.Conv2DTranspose)


class GradCAM(Explainer):
    """Grad-CAM: the feature maps of a convolutional layer, weighted by their mean gradient.

    Args:
        model: a Keras model (Functional or Sequential) with logits output.
        layer: the layer whose feature maps are used — a name, a layer
            object, or ``None`` for the last convolutional layer (a nested
            model with a 4-D output also counts, e.g. a backbone).
        batch_size: inputs per compiled gradient call; ``None`` chooses it.

    ``.values`` has shape ``(H, W, 1)`` (one image) or ``(N, H, W, 1)``:
    the map upsampled bilinearly to the input's size, never negative.

    Example:
        >>> a = xw.GradCAM(model, layer="conv4")(image)
        >>> a.plot(image=image)
    """

    method = "grad_cam"
    argmax_in_gradient_pass = True

    def check_options(self, layer=None):
        self.layer = feature_layer(self.model, layer)
        return dict(layer=self.layer.name)

    def _partials(self, images, targets, logits):
        maps, outputs = None, np.empty(len(images), dtype=np.float32)
        for start, stop, activations, gradients, values in self.model.layer_gradients(
                images, targets, self.layer, self.batch_size):
            weights = self.channel_weights(activations, gradients)
            chunk_maps = np.maximum(np.einsum("nhwk,nk->nhw", activations, weights), 0.0)
            if maps is None:
                maps = np.empty((len(images), *chunk_maps.shape[1:]), dtype=np.float32)
            maps[start:stop], outputs[start:stop] = chunk_maps, values
        yield dict(values=upsample(maps, images.shape[1:3]), outputs=outputs, evaluations=1,
                   info={"layer": self.layer.name, "layer_maps": maps})

    def channel_weights(self, activations, gradients):
        """w_k per image, shape ``(n, channels)``: the mean gradient over the map."""
        return gradients.mean(axis=(1, 2))


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++: channel weights from the positive gradients, weighted per pixel.

    Arguments and ``.values`` as in `GradCAM`.
    """

    method = "grad_cam_plus_plus"

    def channel_weights(self, activations, gradients):
        squares = np.square(gradients)
        denominators = 2.0 * squares + activations.sum(axis=(1, 2), keepdims=True) * squares * gradients
        safe = np.where(denominators != 0.0, denominators, 1.0)
        coefficients = np.where(denominators != 0.0, squares / safe, 0.0)
        return (coefficients * np.maximum(gradients, 0.0)).sum(axis=(1, 2))


def feature_layer(model, layer=None):
    """The layer of ``model`` (a `TargetModel`) whose feature maps Grad-CAM uses.

    Args:
        model: the wrapped model.
        layer: a layer name, a layer object, or ``None`` for the last
            convolutional layer (or nested model with a 4-D output).
    """
    keras_model = model.keras_model
    if keras_model is None:
        raise ValueError(f"Grad-CAM reads a layer's feature maps and needs a Sequential or Functional Keras "
                         f"model; {model.name!r} is a callable or a subclassed model.")
    candidates = [item for item in keras_model.layers if _is_feature_layer(item)]
    if layer is None:
        if not candidates:
            raise ValueError(
                f"model {keras_model.name!r} has no convolutional layer "
                f"({', '.join(kind.__name__ for kind in CONVOLUTIONS)}) for Grad-CAM; pass layer= a layer with a "
                "4-D output (N, h, w, channels)."
            )
        return candidates[-1]
    if isinstance(layer, str):
        names = [item.name for item in keras_model.layers]
        if layer not in names:
            raise ValueError(
                f"model {keras_model.name!r} has no layer named {layer!r}; its convolutional layers are "
                f"{[item.name for item in candidates]}."
            )
        layer = keras_model.layers[names.index(layer)]
    elif not any(layer is item for item in keras_model.layers):
        raise ValueError(f"layer {getattr(layer, 'name', layer)!r} is not a layer of model {keras_model.name!r}; "
                         "pass one of its layers or a layer name.")
    if len(_output_shape(layer)) != 4:
        raise ValueError(
            f"layer {layer.name!r} of model {keras_model.name!r} has output shape {_output_shape(layer)}; Grad-CAM "
            f"needs feature maps (N, h, w, channels), e.g. one of {[item.name for item in candidates]}."
        )
    return layer


def _is_feature_layer(layer):
    if isinstance(layer, CONVOLUTIONS):
        return True
    return isinstance(layer, keras.Model) and len(_output_shape(layer)) == 4


def _output_shape(layer):
    try:
        return tuple(layer_output(layer).shape)
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        return ()


def upsample(maps, size):
    """Bilinear resize of ``(N, h, w)`` maps to ``(N, H, W, 1)``."""
    resized = tf.image.resize(maps[..., np.newaxis], size, method="bilinear")
    return resized.numpy().astype(np.float32)


def grad_cam(model, x, target=None, *, layer=None, **options):
    """Grad-CAM (Selvaraju et al., 2017): ReLU(Σ_k w_k A^k), w_k the mean of ∂y/∂A^k.

    Args:
        model: a Keras model (Functional or Sequential) with logits output.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
        target: class index, one per image, or ``None`` for the arg-max class.
        layer: a layer name or object, or ``None`` for the last convolutional layer.
        **options: ``batch_size``, ``output``.

    Returns:
        `Attribution` with ``values`` of shape ``(H, W, 1)`` or ``(N, H, W, 1)``
        (the map upsampled to the input's size).

    Example:
        >>> a = xw.grad_cam(model, image)
        >>> a.plot(image=image)
    """
    return GradCAM(model, layer=layer, **options)(x, target)


def grad_cam_plus_plus(model, x, target=None, *, layer=None, **options):
    """Grad-CAM++ (Chattopadhyay et al., 2018). Arguments and result as in `grad_cam`."""
    return GradCAMPlusPlus(model, layer=layer, **options)(x, target)
