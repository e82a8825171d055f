"""Composites: which LRP rule each Conv/Dense layer gets.

Montavon et al. (2019) recommend different rules at different depths: a rule
that spreads relevance smoothly near the input (Flat, ZBox), rules that keep
positive evidence in the convolutions (z⁺, γ, α2β1) and LRP-ε in the dense
layers at the top. A `Composite` is that choice as a value; `COMPOSITES` is
the registry ``xw.lrp(..., composite=name)`` looks names up in, and users add
their own to it:

    >>> xw.COMPOSITES["gamma_flat"] = xw.Composite(conv="gamma", dense="epsilon", first="flat")
    >>> a = xw.lrp(model, image, composite="gamma_flat")

Average pooling, Add and Average always split relevance in proportion to the
contributions (LRP-0); activations, BatchNormalization (where not folded) and
preprocessing layers pass it on unchanged; max pooling gives it to the winner.
"""

from dataclasses import dataclass

from ..._backend import keras
from .rules import alpha_beta_rule


@dataclass(frozen=True)
class Composite:
    """A per-layer choice of LRP rules.

    Args:
        conv: rule for convolutions (Conv, DepthwiseConv, both halves of SeparableConv):
            a rule name (``"epsilon"``, ``"zplus"``, …; parameterised by the
            call's ``epsilon``, ``alpha``, ``beta``, ``gamma``) or a `Rule`.
        dense: rule for Dense layers.
        first: rule for the Conv/Dense layer nearest the input (``None``: as the others).
        layers: ``{layer name: rule}`` overrides for single layers.

    Example:
        >>> composite = xw.Composite(conv="gamma", dense="epsilon", first="zbox",
        ...                          layers={"conv5": "zplus"})
        >>> xw.lrp(model, image, composite=composite, gamma=0.5)
    """

    conv: object = "epsilon"
    dense: object = "epsilon"
    first: object = None
    layers: object = ()

    def __post_init__(self):
        layers = self.layers.items() if isinstance(self.layers, dict) else self.layers
        object.__setattr__(self, "layers", tuple(layers))

    def rule_for(self, step, first):
        """The rule (name or `Rule`) of a weighted step; ``first``: it is the one nearest the input."""
        for name, rule in self.layers:
            if name in (step.name, step.layer.name):
                return rule
        if first and self.first is not None:
            return self.first
        return self.dense if isinstance(step.layer, keras.layers.Dense) else self.conv


COMPOSITES = {
    "epsilon_plus": Composite(conv="zplus", dense="epsilon"),
    "epsilon_plus_flat": Composite(conv="zplus", dense="epsilon", first="flat"),
    "epsilon_gamma_box": Composite(conv="gamma", dense="epsilon", first="zbox"),
    "epsilon_alpha2_beta1": Composite(conv=alpha_beta_rule(2.0, 1.0), dense="epsilon"),
}


def resolve_composite(rule, composite):
    """The `Composite` of an LRP call: ``composite`` if given, else ``rule`` for every layer."""
    if composite is None:
        return Composite(conv=rule, dense=rule)
    if isinstance(composite, Composite):
        return composite
    if isinstance(composite, str) and composite in COMPOSITES:
        return COMPOSITES[composite]
    raise ValueError(
        f"unknown composite {composite!r}; use one of {', '.join(sorted(COMPOSITES))}, a Composite, "
        "or register yours in xw.COMPOSITES."
    )
