"""LRP, DeepLIFT and guided backprop: one propagation walk over the Keras graph, different rules.

- `graph`: the model traced into steps; `Graph.forward` / `Graph.backward`
  are the walk and `pull_back` its one GradientTape call;
- `canonize`: BatchNormalization folded into the Conv/Dense before it;
- `walk`: the walk compiled once per model and rule set;
- `rules` and `composites`: LRP rules as small values, and per-layer choices of them;
- `lrp`, `deeplift`, `guided`: the three methods as rule sets on that walk.
"""

from .canonize import fold_batch_norms, folded_layers
from .composites import COMPOSITES, Composite
from .deeplift import DeepLIFT, deeplift
from .graph import Graph, UnsupportedLayerError, trace
from .guided import GuidedBackprop, guided_backprop
from .lrp import LRP, lrp
from .rules import RULES, Group, Rule, Term


def canonize(model):
    """The model as the propagation methods see it: traced, with BatchNorm folded into Conv/Dense.

    The result is a `Graph` (callable on images, returning the logits); the
    user's model is untouched.

    Example:
        >>> graph = xw.canonize(model)
        >>> np.abs(graph(images) - model(images)).max()     # ~1e-6
        >>> folded_layers(graph)                            # [(conv name, batch-norm name), ...]
    """
    return fold_batch_norms(trace(model, "canonize"))


__all__ = [
    "COMPOSITES", "Composite", "DeepLIFT", "Graph", "GuidedBackprop", "Group", "LRP", "RULES", "Rule", "Term",
    "UnsupportedLayerError", "canonize", "deeplift", "fold_batch_norms", "folded_layers", "guided_backprop",
    "lrp", "trace",
]
