"""Layer-wise Relevance Propagation (Bach et al. 2015; Montavon et al. 2019).

LRP starts from the target logit, R = one-hot · F(x), and passes relevance
down layer by layer. A linear layer z_j = Σ_i a_i w_ij + b_j redistributes
it with a rule (`rules`), e.g. LRP-ε

    R_i = Σ_j a_i w_ij / (z_j + ε·sign(z_j)) · R_j;

activations pass relevance on unchanged, max pooling gives it to the winning
input, average pooling, Add and Average split it in proportion to each
input's contribution, Concatenate by slices, and a Multiply gate
(squeeze-excite) passes all of it to the signal: the gate is treated as a
constant factor and gets none. BatchNormalization is first folded into the
Conv/Dense before it (`canonize`). Where no bias or stabiliser absorbs any,
relevance is conserved: Σ_i R_i = F(x).
"""

import numpy as np

from ..._backend import tf
from ...baselines import infer_value_range
from .composites import resolve_composite
from .rules import PROPORTIONAL, RULES, check_alpha_beta, redistribute, resolve
from .walk import PropagationExplainer, RuleSet, chain_rule


class LRPRules(RuleSet):
    """LRP as a rule set: a `Rule` per weighted step, fixed rules for the other kinds."""

    method = "lrp"

    def __init__(self, graph, composite, options):
        super().__init__(graph)
        weighted = graph.weighted_steps()
        self.rules = {step: resolve(composite.rule_for(step, index == 0), options)
                      for index, step in enumerate(weighted)}
        self.needs_bounds = any(rule.needs_bounds for rule in self.rules.values())
        self.nonnegative = graph.nonnegative_tensors()
        self._check(graph)

    @property
    def key(self):
        return (self.method, tuple(self.rules.values()))

    def _check(self, graph):
        for step in graph.steps:
            if step.kind == "gate" and step.gate is None:
                raise ValueError(
                    f"lrp cannot tell the gate from the signal at {step.describe()}: both inputs have the "
                    "same shape and neither comes from a sigmoid. LRP passes relevance through the signal "
                    "of a gate only."
                )
        bounded = _bounded_tensors(graph)
        for step, rule in self.rules.items():
            if rule.needs_bounds and step.inputs[0] not in bounded:
                raise ValueError(
                    f"lrp: the {rule.name} rule at {step.describe()} needs the input bounds at that layer, "
                    "which are only known before the first Conv/Dense layer. Use it on the first layer "
                    "(e.g. composite='epsilon_gamma_box')."
                )

    def extra_specs(self, sample_shape):
        if not self.needs_bounds:
            return []
        return [tf.TensorSpec(sample_shape, tf.float32)] * 2

    def prepare(self, values, extras):
        state = {"values": values, "bounds": {}}
        if self.needs_bounds:
            low, high = (bound[tf.newaxis] for bound in extras)
            state["bounds"] = self.graph.forward((low, high), evaluate=_bounds_through)
        return state

    def start(self, logits, targets, state):
        return super().start(logits, targets, state) * logits

    def propagate(self, step, relevance, state):
        inputs = self.inputs_of(step, state)
        if step.kind == "weighted":
            return redistribute(step, self.rules[step], inputs, relevance, state["values"][step.output],
                                bounds=state["bounds"].get(step.inputs[0]),
                                nonnegative=step.inputs[0] in self.nonnegative)
        if step.kind in ("pool", "merge"):
            return redistribute(step, PROPORTIONAL, inputs, relevance, state["values"][step.output])
        if step.kind in ("reshape", "maxpool"):
            return chain_rule(step, inputs, relevance)
        if step.kind in ("affine", "activation"):
            return [relevance]
        if step.kind == "gate":
            return [None if index == step.gate else relevance for index in range(len(step.inputs))]
        raise ValueError(f"lrp has no rule for {step.describe()} (kind {step.kind!r}).")


def _bounded_tensors(graph):
    """Tensors whose value bounds follow from the input's (only elementwise and reshaping steps before)."""
    bounded = {graph.input}
    for step in graph.steps:
        if step.kind in ("affine", "reshape") and all(index in bounded for index in step.inputs):
            bounded.add(step.output)
    return bounded


def _bounds_through(step, bounds):
    """``(low, high)`` after an elementwise or reshaping step (``None`` after any other)."""
    if step.kind not in ("affine", "reshape"):
        return None
    first = step.run([low for low, _ in bounds])
    second = step.run([high for _, high in bounds])
    return tf.minimum(first, second), tf.maximum(first, second)


class LRP(PropagationExplainer):
    """Layer-wise Relevance Propagation; ``delta`` = Σ R − F(x), the conservation gap.

    Args:
        model: a Keras model ending in logits.
        rule: the rule of every Conv/Dense layer: ``"zero"``, ``"epsilon"``,
            ``"zplus"``, ``"alpha_beta"``, ``"gamma"``, ``"flat"``, ``"wsquare"``,
            ``"zbox"`` (first layer only) or a `Rule`.
        epsilon: ε of the epsilon rule.
        alpha, beta: of the alpha-beta rule; alpha − beta must be 1.
        gamma: γ of the gamma rule.
        composite: a name in `COMPOSITES` (``"epsilon_plus"``,
            ``"epsilon_plus_flat"``, ``"epsilon_gamma_box"``,
            ``"epsilon_alpha2_beta1"``) or a `Composite`; replaces ``rule``.
        bounds: ``(low, high)`` of the input values for ZBox (floats or arrays
            of an image's shape); ``None`` infers them from the images
            ((0, 1) for images in [0, 1], (0, 255), (−1, 1), else min/max).
        batch_size, output: as for every method.

    Example:
        >>> a = xw.LRP(model, composite="epsilon_plus")(images)
        >>> a.delta        # Σ R − F(x): 0 up to what biases and ε absorb
    """

    method = "lrp"

    def check_options(self, rule="epsilon", epsilon=1e-6, alpha=2.0, beta=1.0, gamma=0.25, composite=None,
                      bounds=None):
        if not isinstance(rule, str) and not hasattr(rule, "groups"):
            raise ValueError(f"rule must be a rule name ({', '.join(RULES)}) or a Rule; got {rule!r}.")
        if isinstance(rule, str) and rule not in RULES:
            raise ValueError(f"unknown LRP rule {rule!r}; use one of {', '.join(RULES)}.")
        epsilon, alpha, beta, gamma = (_number(value, name) for value, name in
                                       ((epsilon, "epsilon"), (alpha, "alpha"), (beta, "beta"), (gamma, "gamma")))
        if epsilon < 0 or gamma < 0:
            raise ValueError(f"epsilon and gamma must be >= 0; got epsilon={epsilon}, gamma={gamma}.")
        check_alpha_beta(alpha, beta)
        resolve_composite(rule, composite)
        if bounds is not None:
            bounds = _check_bounds(bounds)
        return dict(rule=rule, epsilon=epsilon, alpha=alpha, beta=beta, gamma=gamma, composite=composite,
                    bounds=bounds)

    def make_rules(self, graph):
        options = self.options
        composite = resolve_composite(options["rule"], options["composite"])
        return LRPRules(graph, composite, options)

    def _partials(self, images, targets, logits):
        shared = self._bounds(images) if self.rules.needs_bounds else ()
        result = self.propagate(images, targets, shared=shared)
        values, outputs = result["values"], result["outputs"]
        delta = values.reshape(len(values), -1).sum(axis=1, dtype=np.float64) - outputs
        yield dict(values=values, outputs=outputs, delta=delta.astype(np.float32), evaluations=1)

    def relevance_by_layer(self, image, target=None):
        """Follow the relevance of one image through the graph, step by step (eagerly, not compiled).

        Args:
            image: one image ``(H, W, C)``.
            target: the explained class (``None``: the arg-max class).

        Returns:
            A list of dicts, one per step in backward order (output first):
            ``layer`` (name), ``type`` (Keras class), ``kind``, ``relevance``
            (Σ R at the step's output) and ``passed`` (Σ R handed to each of
            its inputs, ``None`` where a gate receives nothing). Summing
            ``passed`` against ``relevance`` shows where relevance is
            conserved and where biases or stabilisers absorb some.

        Example:
            >>> for row in xw.LRP(model, rule="zplus").relevance_by_layer(image):
            ...     print(row["layer"], row["relevance"], row["passed"])
        """
        images, _ = self.model.prepare_inputs(np.asarray(image)[np.newaxis])
        targets = self.model.select_targets(images, None if target is None else [target])
        rules = self.rules
        extras = [tf.constant(bound) for bound in self._bounds(images)] if rules.needs_bounds else ()
        values = rules.graph.forward(tf.constant(images))
        state = rules.prepare(values, extras)
        start = rules.start(values[rules.graph.output], tf.constant(targets), state)
        rows = []

        def propagate(step, relevance):
            passed = rules.propagate(step, relevance, state)
            rows.append(dict(layer=step.name, type=step.type_name, kind=step.kind,
                             relevance=float(tf.reduce_sum(relevance)),
                             passed=[None if part is None else float(tf.reduce_sum(part)) for part in passed]))
            return passed

        rules.graph.backward(start, propagate)
        return rows

    def _bounds(self, images):
        low, high = self.options["bounds"] or infer_value_range(images)
        shape = images.shape[1:]
        return (np.broadcast_to(np.asarray(low, np.float32), shape),
                np.broadcast_to(np.asarray(high, np.float32), shape))


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {value!r}.")
    return float(value)


def _check_bounds(bounds):
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high); got {bounds!r}.") from None
    if not np.all(np.asarray(low, np.float32) < np.asarray(high, np.float32)):
        raise ValueError("bounds must satisfy low < high everywhere.")
    return low, high


def lrp(model, x, target=None, *, rule="epsilon", epsilon=1e-6, alpha=2.0, beta=1.0, gamma=0.25, composite=None,
        **options):
    """Layer-wise Relevance Propagation (Bach et al. 2015; Montavon et al. 2019).

    Relevance starts as the target logit and is redistributed layer by layer;
    for LRP-ε at a linear layer R_i = Σ_j a_i w_ij / (z_j + ε·sign(z_j)) · R_j.
    BatchNormalization is folded into the preceding Conv/Dense first.

    Args:
        model: a Keras Sequential or Functional model ending in logits.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
        target: class index, one per image, or ``None`` for the arg-max class.
        rule: rule of every Conv/Dense layer (see `LRP`).
        epsilon, alpha, beta, gamma: the rules' parameters (alpha − beta = 1).
        composite: a composite name or `Composite` (replaces ``rule``).
        **options: ``bounds`` (ZBox), ``batch_size``, ``output``.

    Returns:
        `Attribution` whose ``values`` are the relevances R_i at the input and
        whose ``delta`` is the conservation gap Σ_i R_i − F(x) per image (zero
        for bias-free networks with ε → 0; biases and ε absorb the rest).

    Example:
        >>> a = xw.lrp(model, image, composite="epsilon_plus_flat")
        >>> a.plot(image=image, signed=True)
    """
    return LRP(model, rule=rule, epsilon=epsilon, alpha=alpha, beta=beta, gamma=gamma, composite=composite,
               **options)(x, target)
