"""LRP rules: each is a small value that fills in one template.

For a linear layer z_j = Σ_i a_i w_ij + b_j, every rule redistributes the
relevance R_j of the outputs to the inputs as

    R_i = Σ_groups  scale · Σ_terms  c · a'_i · Σ_j w'_ij · mask_j · R_j / stabilise(z'_j),
    z'_j = Σ_terms  c · (Σ_i a'_i w'_ij + b'_j),

where a' = term.inputs(a) and (w', b') = term.weights(w, b) are modified
copies of the inputs and parameters and c is the term's coefficient (Bach et
al. 2015; Montavon et al. 2019, "Layer-wise relevance propagation: an
overview"). The inner sum over j is a vector-Jacobian product, computed once
for all rules in `redistribute`; a term that several groups share is
evaluated once, and the unmodified layer's z is taken from the forward pass.

Conventions (those of zennit, so results agree with it): stabilise(z) =
z + ε·sign(z) with sign(0) = +1; ZPlus and AlphaBeta use the generalised form
that also handles negative inputs (x⁻w⁻ terms), with max(b, 0) and min(b, 0)
in the positive and negative denominators; Gamma adds γ times the positive
(or negative) weights and splits by the sign of the output (written as the
unmodified layer plus ±γ times the positive contributions, see `gamma_rule`);
Flat sets inputs and weights to one and the bias to zero; WSquare squares
weights and bias; ZBox subtracts the bounds' contributions l·w⁺ + h·w⁻.

A user-defined rule is another `Rule` value (give it its own ``name``).
"""

import functools
from dataclasses import dataclass, field, replace

from ..._backend import tf
from .graph import fused_elementwise, pull_back

DEFAULT_STABILIZER = 1e-6


@dataclass(frozen=True)
class Term:
    """One modified copy of a layer: ``coefficient · layer(inputs(a), weights(w, b))``.

    Attributes:
        inputs: ``inputs(a, bounds) -> a'``; ``bounds`` is ``(low, high)`` at
            the layer's input (only known for the first layer) or ``None``.
        weights: ``weights(name, value) -> value'`` for ``"kernel"`` and ``"bias"``.
        coefficient: 1, −1 for terms that are subtracted (ZBox's bounds), ±γ in Gamma.
    """

    inputs: object
    weights: object
    coefficient: float = 1.0


@dataclass(frozen=True)
class Group:
    """Terms sharing one denominator z′, weighted by ``scale`` (α, −β) and masked by ``where(z)``."""

    terms: tuple
    scale: float = 1.0
    where: object = None


@dataclass(frozen=True)
class Rule:
    """An LRP rule: groups of modified layer copies and the stabiliser ε.

    Two rules are equal when their ``name``, ``parameters`` and
    ``stabilizer`` are (that is what compiled code is cached on).
    """

    name: str
    groups: tuple = field(compare=False)
    stabilizer: float = DEFAULT_STABILIZER
    parameters: tuple = ()
    needs_bounds: bool = False

    def __repr__(self):
        values = ", ".join(f"{key}={value}" for key, value in self.parameters)
        return f"Rule({self.name}{', ' if values else ''}{values})"


# ---------------------------------------------------------------- modifiers
def identity(value, *_):
    return value


def positive(value, *_):
    return tf.maximum(value, 0.0)


def negative(value, *_):
    return tf.minimum(value, 0.0)


def ones(value, *_):
    return tf.ones_like(value)


def lowest(value, bounds):
    return tf.broadcast_to(bounds[0], tf.shape(value))


def highest(value, bounds):
    return tf.broadcast_to(bounds[1], tf.shape(value))


def without_bias(modify):
    """The weight modifier ``modify`` with the bias set to zero."""
    return lambda name, value: tf.zeros_like(value) if name == "bias" else modify(name, value)


def keep(name, value):
    return value


def positive_part(name, value):
    return tf.maximum(value, 0.0)


def negative_part(name, value):
    return tf.minimum(value, 0.0)


def squared(name, value):
    return tf.square(value)


def all_ones(name, value):
    return tf.ones_like(value)


def output_positive(z):
    return tf.cast(z > 0, z.dtype)


def output_negative(z):
    return tf.cast(z < 0, z.dtype)


# -------------------------------------------------------------------- rules
def epsilon_rule(epsilon=DEFAULT_STABILIZER, name="epsilon"):
    """LRP-ε: R_i = Σ_j a_i w_ij R_j / (z_j + ε·sign(z_j)); ε = 0 is LRP-0."""
    return Rule(name, (Group((Term(identity, keep),)),), stabilizer=float(epsilon),
                parameters=(("epsilon", float(epsilon)),) if name == "epsilon" else ())


def zplus_rule():
    """LRP-z⁺: only positive contributions a⁺w⁺ + a⁻w⁻ (+ max(b, 0)) count."""
    return Rule("zplus", (_positive_contributions(),))


def alpha_beta_rule(alpha=2.0, beta=1.0):
    """LRP-αβ: α · positive contributions / z⁺ − β · negative contributions / z⁻, with α − β = 1."""
    alpha, beta = float(alpha), float(beta)
    check_alpha_beta(alpha, beta)
    return Rule("alpha_beta", (_positive_contributions(scale=alpha),
                               _negative_contributions(scale=-beta)),
                parameters=(("alpha", alpha), ("beta", beta)))


def gamma_rule(gamma=0.25):
    """LRP-γ: weights w + γw⁺ favour positive contributions (w + γw⁻ for negative outputs).

    By linearity both modified layers are the unmodified one plus a multiple
    of the positive contributions z⁺ = a⁺w⁺ + a⁻w⁻ + max(b, 0):

        z > 0:  a⁺(w + γw⁺) + a⁻(w + γw⁻) + b + γ·max(b, 0) = z + γz⁺,
        z < 0:  a⁺(w + γw⁻) + a⁻(w + γw⁺) + b + γ·min(b, 0) = (1 + γ)z − γz⁺,

    so z⁺ is the only modified forward pass both share (z is known).
    """
    gamma = float(gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0; got {gamma}.")
    contributions = _positive_contributions().terms
    return Rule("gamma", (
        Group((Term(identity, keep), *_scaled(contributions, gamma)), where=output_positive),
        Group((Term(identity, keep, 1.0 + gamma), *_scaled(contributions, -gamma)), where=output_negative),
    ), parameters=(("gamma", gamma),))


def flat_rule():
    """LRP-flat: relevance spread uniformly over the receptive field (inputs and weights set to one)."""
    return Rule("flat", (Group((Term(ones, without_bias(all_ones)),)),))


def wsquare_rule():
    """LRP-w²: R_i = Σ_j w_ij² R_j / Σ_i' w_i'j² (inputs set to one; the bias is squared too)."""
    return Rule("wsquare", (Group((Term(ones, squared),)),))


def zbox_rule():
    """LRP-z^B for inputs in [l, h]: z_ij = a_i w_ij − l_i w⁺_ij − h_i w⁻_ij."""
    return Rule("zbox", (Group((Term(identity, keep), Term(lowest, positive_part, -1.0),
                                Term(highest, negative_part, -1.0))),), needs_bounds=True)


def _positive_contributions(scale=1.0):
    return Group((Term(positive, positive_part), Term(negative, without_bias(negative_part))), scale=scale)


def _scaled(terms, factor):
    return tuple(replace(term, coefficient=factor * term.coefficient) for term in terms)


def _negative_contributions(scale):
    return Group((Term(positive, negative_part), Term(negative, without_bias(positive_part))), scale=scale)


def check_alpha_beta(alpha, beta):
    if alpha < 0 or beta < 0:
        raise ValueError(f"alpha and beta must be >= 0; got alpha={alpha}, beta={beta}.")
    if abs(alpha - beta - 1.0) > 1e-9:
        raise ValueError(
            f"the alpha-beta rule needs alpha - beta = 1 to conserve relevance; got alpha={alpha}, "
            f"beta={beta}. Use e.g. alpha=2, beta=1 or alpha=1, beta=0."
        )


RULES = {
    "zero": lambda options: epsilon_rule(0.0, name="zero"),
    "epsilon": lambda options: epsilon_rule(options["epsilon"]),
    "zplus": lambda options: zplus_rule(),
    "alpha_beta": lambda options: alpha_beta_rule(options["alpha"], options["beta"]),
    "gamma": lambda options: gamma_rule(options["gamma"]),
    "flat": lambda options: flat_rule(),
    "wsquare": lambda options: wsquare_rule(),
    "zbox": lambda options: zbox_rule(),
}

# Average pooling, global average pooling, Add and Average: LRP-0, relevance
# split in exact proportion to each input's contribution (a zero sum passes none).
PROPORTIONAL = epsilon_rule(0.0, name="proportional")


def resolve(rule, options):
    """A `Rule` from a rule name (parameterised by ``options``) or a `Rule` value."""
    if isinstance(rule, Rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"unknown LRP rule {rule!r}; use one of {', '.join(RULES)} or a Rule value.")
    return RULES[rule](options)


# ------------------------------------------------------------- the template
def stabilize(z, epsilon):
    """z + ε·sign(z) with sign(0) = +1."""
    if epsilon == 0.0:
        return z
    return z + tf.where(z >= 0, epsilon, -epsilon)


def redistribute(step, rule, inputs, relevance, output, bounds=None, nonnegative=False):
    """Relevance at each input of a linear ``step`` under ``rule`` (the template of the module doc).

    Args:
        step: a weighted, pool or merge `Step`.
        rule: the `Rule`.
        inputs: the step's input values.
        relevance: R at the step's output.
        output: the step's (unmodified) output z, for masks such as Gamma's.
        bounds: ``(low, high)`` at the step's input, for ZBox.
        nonnegative: the inputs are known to be ≥ 0 (e.g. after a ReLU); terms
            of their negative parts are zero and are skipped.
    """
    plan, copies = _plan(rule, nonnegative)
    params = step.params()
    copy_params = [{name: modify(name, value) for name, value in params.items()} for _, modify in copies]
    modified_inputs = {modify: [modify(value, bounds) for value in inputs] for modify in dict.fromkeys(
        modify for modify, _ in copies)}
    copy_inputs = [value for modify, _ in copies for value in modified_inputs[modify]]
    count = len(inputs)

    def copy_outputs(*flat_inputs):
        return [step.call(list(flat_inputs[k * count:(k + 1) * count]), copy_params[k]) for k in range(len(copies))]

    def cotangents(outputs):
        # the unmodified layer's z is known from the forward pass (its recomputation is then unused)
        outputs = [output if copy == (identity, keep) else value for copy, value in zip(copies, outputs)]
        return _cotangents(plan, len(copies), rule.stabilizer)(relevance, output, *outputs)

    _, grads = pull_back(copy_outputs, copy_inputs, cotangents)
    # copies that read the same modified inputs add their gradients before the one product a'·g
    gradients = {}
    for position, grad in enumerate(grads):
        key = (copies[position // count][0], position % count)
        gradients[key] = grad if key not in gradients else gradients[key] + grad
    totals = [None] * count
    for (modify, index), grad in gradients.items():
        share = modified_inputs[modify][index] * grad
        totals[index] = share if totals[index] is None else totals[index] + share
    return [tf.zeros_like(value) if total is None else total for value, total in zip(inputs, totals)]


def _plan(rule, nonnegative):
    """The rule's groups as ``(where, scale, ((copy index, coefficient), ...))`` and its distinct copies.

    A copy is an (inputs, weights) modifier pair; one that several groups use
    is evaluated and pulled back once. On inputs known to be ≥ 0, a⁻ terms
    vanish and a⁺ = a.
    """
    groups = []
    for group in rule.groups:
        terms = [(identity if nonnegative and term.inputs is positive else term.inputs, term.weights,
                  term.coefficient) for term in group.terms if not (nonnegative and term.inputs is negative)]
        if terms:
            groups.append((group, terms))
    copies = list(dict.fromkeys((inputs, weights) for _, terms in groups for inputs, weights, _ in terms))
    plan = tuple((group.where, group.scale, tuple((copies.index((inputs, weights)), coefficient)
                                                  for inputs, weights, coefficient in terms))
                 for group, terms in groups)
    return plan, copies


@functools.lru_cache(maxsize=None)
def _cotangents(plan, copy_count, stabilizer):
    """``f(R, z, z′₁, z′₂, …) -> [cotangent of each copy]``: Σ_groups c · scale · mask · R / stabilise(z′).

    Compiled once per rule structure (`fused_elementwise`).
    """
    def cotangents(relevance, output, *outputs):
        weights = [None] * copy_count
        for where, scale, members in plan:
            denominator = tf.add_n([_times(coefficient, outputs[k]) for k, coefficient in members])
            masked = relevance if where is None else relevance * where(output)
            ratio = _times(scale, tf.math.divide_no_nan(masked, stabilize(denominator, stabilizer)))
            for k, coefficient in members:
                share = _times(coefficient, ratio)
                weights[k] = share if weights[k] is None else weights[k] + share
        return weights

    return fused_elementwise(cotangents)


def _times(factor, value):
    return value if factor == 1.0 else factor * value
