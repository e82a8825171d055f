"""xai-widgets: attribution maps for TensorFlow/Keras 3 CNNs, live in the notebook.

Example:
    >>> import xai_widgets as xw
    >>> model = xw.zoo.load("shapes_cnn")
    >>> images, labels, masks = xw.zoo.shapes(4)
    >>> a = xw.integrated_gradients(model, images[0], steps=32)
    >>> a.delta          # completeness gap Σ A − (F(x) − F(x′))
"""

from . import _backend  # noqa: F401  (refuses a missing TensorFlow or another Keras backend first)
from . import metrics, zoo
from .attribution import Attribution
from .methods import METHODS, Explainer, GradientXInput, Saliency, explain, gradient_x_input, saliency
from .methods import (GradCAM, GradCAMPlusPlus, IntegratedGradients, SmoothGrad, grad_cam, grad_cam_plus_plus,
                      integrated_gradients, smoothgrad)
from .methods import (COMPOSITES, LRP, Composite, DeepLIFT, GuidedBackprop, canonize, deeplift, guided_backprop,
                      lrp)
from .distribute import attribute_dataset
from .model import TargetModel
from .summit import Summary, summarize

__version__ = "0.1.0"

# The notebook widgets import anywidget/ipywidgets (~1 s); they load on first use.
_WIDGETS = ("Compare", "Explorer", "SummitView", "compare", "show", "summit_view")


def __getattr__(name):
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'xai_widgets' has no attribute {name!r}")

__all__ = [
    "Attribution",
    "COMPOSITES",
    "Compare",
    "Composite",
    "DeepLIFT",
    "Explorer",
    "Explainer",
    "GradCAM",
    "GradCAMPlusPlus",
    "GradientXInput",
    "GuidedBackprop",
    "IntegratedGradients",
    "LRP",
    "METHODS",
    "Saliency",
    "SmoothGrad",
    "Summary",
    "SummitView",
    "TargetModel",
    "attribute_dataset",
    "canonize",
    "compare",
    "deeplift",
    "explain",
    "grad_cam",
    "grad_cam_plus_plus",
    "gradient_x_input",
    "guided_backprop",
    "integrated_gradients",
    "lrp",
    "metrics",
    "saliency",
    "show",
    "smoothgrad",
    "summarize",
    "summit_view",
    "zoo",
]
