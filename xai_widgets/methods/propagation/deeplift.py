"""DeepLIFT (Shrikumar, Greenside & Kundaje 2017, "Learning Important Features Through Propagating
Activation Differences").

DeepLIFT explains the difference from a reference input x′: with Δ the
difference of every activation from its value on x′, it propagates
multipliers m = ∂Δ(output)/∂Δ(unit) backwards with the chain rule and
returns A_i = m_i · (x_i − x′_i). Linear layers keep their weights as
multipliers; a nonlinearity y = f(x) gets the *Rescale* multiplier

    m = Δy / Δx   (f′(x) where Δx is at the level of rounding noise),

so the attributions sum to the difference of the outputs (summation-to-delta):

    Σ_i A_i = F(x) − F(x′),  reported per image as ``delta`` = Σ A − (F(x) − F(x′)).

*RevealCancel* (same paper, §3.5.3) splits each Δx into the sum of its
positive and its negative contributions, Δx⁺ and Δx⁻, and gives them separate
multipliers, so that positive and negative evidence that cancel in Δx are
both revealed:

    Δy⁺ = ½ [f(x′ + Δx⁺) − f(x′)] + ½ [f(x′ + Δx⁻ + Δx⁺) − f(x′ + Δx⁻)],   m⁺ = Δy⁺ / Δx⁺,
    Δy⁻ = ½ [f(x′ + Δx⁻) − f(x′)] + ½ [f(x′ + Δx⁺ + Δx⁻) − f(x′ + Δx⁺)],   m⁻ = Δy⁻ / Δx⁻.

The parts are carried through every linear layer (positive weights map
positive parts to positive parts, negative weights swap them) and start
afresh after each nonlinearity. Summation-to-delta holds for both rules.

Two layers need more than the chain rule for summation-to-delta to hold:
max pooling, whose multiplier routes the change of each window's maximum
through the winners on x and on x′ (as Captum and SHAP's DeepExplainer do),
and Multiply, where y = s·g changes by Δs·ḡ + s̄·Δg exactly (ḡ, s̄ the means
of the values on x and x′), which gives both inputs their multiplier.
"""

import numpy as np

from ..._backend import tf
from ...baselines import NAMED, resolve_baseline
from .graph import LINEAR_KINDS, fused_elementwise, pull_back
from .walk import PropagationExplainer, RuleSet, chain_rule

# Where |Δx| is below this fraction of |x| + |x′| (about 80 float32 rounding steps), the slope Δy/Δx is
# rounding noise, and a noisy multiplier would be amplified by the layers below; the derivative at x is used.
SMALL_DIFFERENCE = 1e-5


def _ratio(numerator, denominator, fallback, x, reference):
    """numerator / denominator, or ``fallback`` where |denominator| is at the level of rounding noise."""
    large = tf.abs(denominator) > SMALL_DIFFERENCE * (tf.abs(x) + tf.abs(reference))
    return tf.where(large, tf.math.divide_no_nan(numerator, denominator), fallback)


class RescaleRules(RuleSet):
    """DeepLIFT-Rescale: chain rule through linear steps, Δy/Δx through nonlinear ones."""

    method = "deeplift"
    rule = "rescale"

    @property
    def key(self):
        return (self.method, self.rule)

    def extra_specs(self, sample_shape):
        return [tf.TensorSpec((None, *sample_shape), tf.float32)]

    def prepare(self, values, extras):
        return {"values": values, "reference": self.graph.forward(extras[0])}

    def propagate(self, step, multiplier, state):
        if step.kind in LINEAR_KINDS:
            return chain_rule(step, self.inputs_of(step, state), multiplier)
        return NONLINEAR[step.kind](step, multiplier, state)

    def finish(self, multiplier, state):
        return {"values": multiplier * difference(self.graph.input, state),
                "reference_logits": self.reference_logits(state)}

    def reference_logits(self, state):
        logits = state["values"][self.graph.output]
        return tf.broadcast_to(state["reference"][self.graph.output], tf.shape(logits))


def difference(index, state):
    """Δ of a tensor: its value on x minus its value on x′."""
    return state["values"][index] - state["reference"][index]


def rescale(step, multiplier, state):
    """m_x = m_y · Δy/Δx for an elementwise nonlinearity y = f(x)."""
    (x,), (reference,) = _inputs(step, state)
    _, (derivative,) = pull_back(lambda value: step.run([value]), [x], multiplier)
    return [_ratio(multiplier * difference(step.output, state), x - reference, derivative, x, reference)]


def max_pool_multiplier(step, multiplier, state):
    """Route each window's Δmax through its winners on x and on x′ so that Σ m·Δx = Σ m_y·Δy.

    With y, y′ the window maxima and t = max(y, y′): the winner on x gets
    m_y·(t − y′), the winner on x′ gets m_y·(y − t); both add up to m_y·Δy.
    """
    (x,), (reference,) = _inputs(step, state)
    reference = tf.broadcast_to(reference, tf.shape(x))  # one shared reference pass has batch size 1
    output, output_reference = state["values"][step.output], state["reference"][step.output]
    top = tf.maximum(output, output_reference)

    def pool(value):
        return step.run([value])

    _, (through_input,) = pull_back(pool, [x], multiplier * (top - output_reference))
    _, (through_reference,) = pull_back(pool, [reference], multiplier * (output - top))
    _, (gradient,) = pull_back(pool, [x], multiplier)
    return [_ratio(through_input + through_reference, x - reference, gradient, x, reference)]


def product_multipliers(step, multiplier, state):
    """y = s·g: Δy = Δs·ḡ + s̄·Δg exactly, so m_s = m_y·ḡ and m_g = m_y·s̄ (summed over broadcasts)."""
    (signal, gate), (signal_reference, gate_reference) = _inputs(step, state)
    signal_mean, gate_mean = (signal + signal_reference) / 2, (gate + gate_reference) / 2
    _, multipliers = pull_back(lambda s, g: s * gate_mean + signal_mean * g, [signal, gate], multiplier)
    return multipliers


NONLINEAR = {"activation": rescale, "maxpool": max_pool_multiplier, "gate": product_multipliers}


def _inputs(step, state):
    return ([state["values"][index] for index in step.inputs],
            [state["reference"][index] for index in step.inputs])


class RevealCancelRules(RescaleRules):
    """DeepLIFT-RevealCancel: multipliers for the positive and negative parts (m⁺, m⁻) of every Δ.

    The parts travel in a form that costs one pass per layer each way. Forward,
    each Δ carries its spread S = Δ⁺ − Δ⁻ ≥ 0, so Δ± = (Δ ± S) / 2: through a
    linear map L, Δ⁺_out = L⁺Δ⁺ + L⁻Δ⁻ = ½(L Δ + |L| S), hence S_out = |L| S
    (Δ_out is known from the two forward passes). Backward, the multipliers
    travel as their mean m̄ = (m⁺ + m⁻) / 2 and half-difference
    m̃ = (m⁺ − m⁻) / 2: since m⁺Δ⁺ + m⁻Δ⁻ = m̄ Δ + m̃ S, the mean goes back
    through Lᵀ (the chain rule, as for Rescale) and the half-difference
    through |L|ᵀ.
    """

    rule = "reveal_cancel"

    def prepare(self, values, extras):
        state = super().prepare(values, extras)
        spread_at_input = tf.abs(difference(self.graph.input, state))
        state["spread"] = self.graph.forward(spread_at_input,
                                             evaluate=lambda step, spreads: self._spread(step, spreads, state))
        return state

    def _spread(self, step, spreads, state):
        if step.kind in LINEAR_KINDS:
            return absolute_linear(step)(*spreads)
        return tf.abs(difference(step.output, state))  # after a nonlinearity the parts start afresh

    def start(self, logits, targets, state):
        one_hot = super().start(logits, targets, state)
        return one_hot, tf.zeros_like(one_hot)

    def propagate(self, step, multipliers, state):
        mean, half_difference = multipliers
        if step.kind in LINEAR_KINDS:
            means = chain_rule(step, self.inputs_of(step, state), mean)
            spreads = [state["spread"][index] for index in step.inputs]
            _, half_differences = pull_back(absolute_linear(step), spreads, half_difference)
            return list(zip(means, half_differences))
        if step.kind == "activation":
            return [reveal_cancel(step, multipliers, state)]
        # a nonlinear step's output parts are (max(Δy, 0), min(Δy, 0)): one multiplier per unit
        multiplier = tf.where(difference(step.output, state) > 0, mean + half_difference, mean - half_difference)
        return [(single, tf.zeros_like(single)) for single in NONLINEAR[step.kind](step, multiplier, state)]

    def finish(self, multipliers, state):
        mean, half_difference = multipliers
        change = difference(self.graph.input, state)
        return {"values": mean * change + half_difference * tf.abs(change),
                "reference_logits": self.reference_logits(state)}


def reveal_cancel(step, multipliers, state):
    """(m̄, m̃) at the input of an elementwise nonlinearity y = f(x) from (m̄, m̃) at its output (module doc)."""
    def f(value):
        return step.run([value])

    (x,), (reference,) = _inputs(step, state)
    change, spread = difference(step.inputs[0], state), state["spread"][step.inputs[0]]
    positive = 0.5 * (change + spread)
    negative = change - positive
    cancel = f(x - negative) - f(x - positive)  # f(x′ + Δx⁺) − f(x′ + Δx⁻), as x′ + Δx± = x − Δx∓
    _, (slope,) = pull_back(f, [x], tf.ones_like(x))
    return _reveal_cancel_multipliers(*multipliers, difference(step.output, state), cancel, positive, negative,
                                      slope, x, reference)


@fused_elementwise
def _reveal_cancel_multipliers(mean, half_difference, output_change, cancel, positive, negative, slope, x,
                               reference):
    """Δy⁺ = ½(Δy + f(x′ + Δx⁺) − f(x′ + Δx⁻)), Δy⁻ = Δy − Δy⁺; m± = m·Δy± / Δx±; returns (m̄, m̃)."""
    # the output's parts are (max(Δy, 0), min(Δy, 0)): one multiplier m per unit
    multiplier = tf.where(output_change > 0, mean + half_difference, mean - half_difference)
    positive_change = 0.5 * (output_change + cancel)
    negative_change = output_change - positive_change
    derivative = slope * multiplier
    positive_multiplier = _ratio(multiplier * positive_change, positive, derivative, x, reference)
    negative_multiplier = _ratio(multiplier * negative_change, negative, derivative, x, reference)
    return 0.5 * (positive_multiplier + negative_multiplier), 0.5 * (positive_multiplier - negative_multiplier)


def absolute_linear(step):
    """``f(v₁, v₂, …) -> |L| v``: a linear step with its coefficients replaced by their magnitudes, no offset."""
    if step.kind == "weighted":
        def absolute(value):
            params = step.params()
            magnitudes = {"kernel": tf.abs(params["kernel"]), "bias": tf.zeros_like(params["bias"])}
            return step.call([value], magnitudes)
        return absolute
    if step.kind == "affine":
        return lambda value: tf.abs(_affine_scale(step, value)) * value
    # pooling, merges and reshapes: non-negative coefficients, no offsets
    return lambda *values: step.run(values)


def _affine_scale(step, like):
    """The elementwise scale s of an affine step x ↦ s·x + t."""
    return step.run([tf.ones_like(like)]) - step.run([tf.zeros_like(like)])


RULE_SETS = {"rescale": RescaleRules, "reveal_cancel": RevealCancelRules}


class DeepLIFT(PropagationExplainer):
    """DeepLIFT with the Rescale or RevealCancel rule; ``delta`` = Σ A − (F(x) − F(x′)).

    Args:
        model: a Keras model ending in logits.
        baseline: the reference x′: ``"black"``, ``"white"``, ``"blur"``,
            ``"noise"``, ``"mean"``, a float, an array of an image's (or the
            batch's) shape, or a stack of K references whose attributions are
            averaged — anything `IntegratedGradients` accepts.
        rule: ``"rescale"`` or ``"reveal_cancel"``.
        blur_sigma, seed: of the ``"blur"`` and ``"noise"`` baselines.
        batch_size, output: as for every method.

    One call costs one pass over the images, one over the references and one
    backward walk (RevealCancel: one more of each, for the spreads of the
    differences and their multipliers); a reference shared by all images (a
    constant such as the default 0) is passed through the network once per chunk.

    Example:
        >>> a = xw.DeepLIFT(model, baseline="blur", rule="reveal_cancel")(image)
        >>> a.delta         # ≈ 0: the attributions sum to F(x) − F(x′)
    """

    method = "deeplift"

    def check_options(self, baseline=0.0, rule="rescale", blur_sigma=5.0, seed=None):
        if isinstance(baseline, str) and baseline not in NAMED:
            raise ValueError(f"unknown baseline {baseline!r}; use one of {NAMED}, a float or an array.")
        if rule not in RULE_SETS:
            raise ValueError(f"unknown DeepLIFT rule {rule!r}; use one of {', '.join(RULE_SETS)}.")
        return dict(baseline=baseline, rule=rule, blur_sigma=blur_sigma, seed=seed)

    def make_rules(self, graph):
        return RULE_SETS[self.options["rule"]](graph)

    def stream(self, x, target=None):
        """Yield the result (one final partial, progress 1)."""
        # a 4-D baseline reads as K baselines of one image, or one baseline per image of a batch
        return super().stream(x, target, one_image=np.ndim(x) == 3)

    def _partials(self, images, targets, logits, one_image):
        options = self.options
        baselines = resolve_baseline(options["baseline"], images, one_image, blur_sigma=options["blur_sigma"],
                                     seed=options["seed"])
        results = [self._propagate_from(reference, images, targets) for reference in baselines]
        values = np.mean([result["values"] for result in results], axis=0)
        outputs = results[0]["outputs"]
        reference_outputs = np.mean([np.take_along_axis(result["reference_logits"], targets[:, None], 1)[:, 0]
                                     for result in results], axis=0)
        total = values.reshape(len(values), -1).sum(axis=1, dtype=np.float64)
        delta = total - (outputs.astype(np.float64) - reference_outputs)
        yield dict(values=values, outputs=outputs, baseline_outputs=reference_outputs,
                   delta=delta.astype(np.float32), evaluations=len(baselines))

    def _propagate_from(self, references, images, targets):
        if (references == references[:1]).all():
            # the same x′ for every image (a constant, a shared array): one reference pass for the chunk
            return self.propagate(images, targets, shared=[references[:1]])
        return self.propagate(images, targets, per_image=[references])


def deeplift(model, x, target=None, *, baseline=0.0, rule="rescale", **options):
    """DeepLIFT attributions (Shrikumar et al. 2017): A_i = m_i · (x_i − x′_i), Σ A = F(x) − F(x′).

    Args:
        model: a Keras Sequential or Functional model ending in logits.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
        target: class index, one per image, or ``None`` for the arg-max class.
        baseline: the reference x′ (see `DeepLIFT`).
        rule: ``"rescale"`` (Δy/Δx multipliers) or ``"reveal_cancel"``
            (separate multipliers for positive and negative contributions).
        **options: ``blur_sigma``, ``seed``, ``batch_size``, ``output``.

    Returns:
        `Attribution` with ``baseline_outputs`` F(x′) and ``delta`` =
        Σ A − (F(x) − F(x′)) per image (summation-to-delta: ≈ 0).

    Example:
        >>> a = xw.deeplift(model, image, baseline="black")
        >>> a.plot(image=image, signed=True)
    """
    return DeepLIFT(model, baseline=baseline, rule=rule, **options)(x, target)
