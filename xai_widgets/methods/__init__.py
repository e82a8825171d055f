"""Attribution methods, one module per family; each module reads as its formula."""

from .base import METHODS, Explainer, explain
from .gradient import GradientXInput, Saliency, gradient_x_input, saliency
from .integrated import IntegratedGradients, integrated_gradients
from .smoothgrad import SmoothGrad, smoothgrad
from .cam import GradCAM, GradCAMPlusPlus, grad_cam, grad_cam_plus_plus
from .propagation import (COMPOSITES, LRP, Composite, DeepLIFT, GuidedBackprop, canonize, deeplift,
                          guided_backprop, lrp)

__all__ = ["METHODS", "Explainer", "explain", "Saliency", "GradientXInput", "saliency", "gradient_x_input",
           "IntegratedGradients", "SmoothGrad", "GradCAM", "GradCAMPlusPlus", "integrated_gradients", "smoothgrad",
           "grad_cam", "grad_cam_plus_plus", "LRP", "DeepLIFT", "GuidedBackprop", "lrp", "deeplift", "guided_backprop",
           "COMPOSITES", "Composite", "canonize"]
