"""Guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity: The All Convolutional Net").

The gradient of the target logit, except that at every activation only
positive gradient flows back, and only where the unit is active:

    g_x = f′(x) · max(g_y, 0)     (for a ReLU: 1[x > 0] · max(g_y, 0)).

Every other layer passes the ordinary gradient. The same walk as LRP and
DeepLIFT, with this one rule at the activations (for smooth activations such
as swish or sigmoid, f′(x) is their derivative).
"""

from ..._backend import tf
from .graph import pull_back
from .walk import PropagationExplainer, RuleSet, chain_rule


class GuidedRules(RuleSet):
    """Guided backprop: guided activations, the chain rule everywhere else."""

    method = "guided_backprop"

    def propagate(self, step, gradient, state):
        inputs = self.inputs_of(step, state)
        if step.kind == "activation":
            _, grads = pull_back(lambda value: step.run([value]), inputs, tf.nn.relu(gradient))
            return grads
        return chain_rule(step, inputs, gradient)


class GuidedBackprop(PropagationExplainer):
    """Guided backpropagation: the gradient with negative signals cut at every activation.

    Example:
        >>> a = xw.GuidedBackprop(model)(image)
        >>> a.heatmap(aggregate="max_abs")
    """

    method = "guided_backprop"

    def make_rules(self, graph):
        return GuidedRules(graph)

    def _partials(self, images, targets, logits):
        result = self.propagate(images, targets)
        yield dict(values=result["values"], outputs=result["outputs"], evaluations=1)


def guided_backprop(model, x, target=None, **options):
    """Guided backpropagation (Springenberg et al. 2015).

    Args:
        model: a Keras Sequential or Functional model ending in logits.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
        target: class index, one per image, or ``None`` for the arg-max class.
        **options: ``batch_size``, ``output``.

    Returns:
        `Attribution` with the guided gradient in ``values``.

    Example:
        >>> a = xw.guided_backprop(model, image)
        >>> a.plot(image=image)
    """
    return GuidedBackprop(model, **options)(x, target)
