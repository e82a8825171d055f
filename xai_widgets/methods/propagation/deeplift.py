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
from .graph import LINEAR_KINDS, pull_back
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
    """DeepLIFT-RevealCancel: multipliers for the positive and negative parts (m⁺, m⁻) of every Δ."""

    rule = "reveal_cancel"

    def prepare(self, values, extras):
        state = super().prepare(values, extras)
        start = _split(difference(self.graph.input, state))
        state["parts"] = self.graph.forward(start, evaluate=lambda step, parts: self._parts(step, parts, state))
        return state

    def _parts(self, step, parts, state):
        if step.kind in LINEAR_KINDS:  # N = Δ − P, with Δ known from the two forward passes
            positive = _positive_part(step)(*[part for pair in parts for part in pair])
            return positive, difference(step.output, state) - positive
        return _split(difference(step.output, state))

    def start(self, logits, targets, state):
        one_hot = super().start(logits, targets, state)
        return one_hot, one_hot

    def propagate(self, step, multipliers, state):
        if step.kind in LINEAR_KINDS:
            parts = [part for index in step.inputs for part in state["parts"][index]]
            _, grads = pull_back(split_linear(step), parts, list(multipliers))
            return [(grads[2 * k], grads[2 * k + 1]) for k in range(len(step.inputs))]
        # a nonlinear step's output parts are (max(Δy, 0), min(Δy, 0)): one multiplier per unit
        multiplier = tf.where(difference(step.output, state) > 0, *multipliers)
        if step.kind == "activation":
            return [reveal_cancel(step, multiplier, state)]
        return [(single, single) for single in NONLINEAR[step.kind](step, multiplier, state)]

    def finish(self, multipliers, state):
        positive, negative = _split(difference(self.graph.input, state))
        return {"values": multipliers[0] * positive + multipliers[1] * negative,
                "reference_logits": self.reference_logits(state)}


def reveal_cancel(step, multiplier, state):
    """(m⁺, m⁻) of an elementwise nonlinearity from the parts Δx⁺, Δx⁻ of its input (module doc)."""
    def f(value):
        return step.run([value])

    (x,), (reference,) = _inputs(step, state)
    positive, negative = state["parts"][step.inputs[0]]
    output, output_reference = state["values"][step.output], state["reference"][step.output]
    after_positive, after_negative = f(reference + positive), f(reference + negative)
    positive_change = 0.5 * (after_positive - output_reference) + 0.5 * (output - after_negative)
    negative_change = 0.5 * (after_negative - output_reference) + 0.5 * (output - after_positive)
    _, (derivative,) = pull_back(f, [x], multiplier)
    return (_ratio(multiplier * positive_change, positive, derivative, x, reference),
            _ratio(multiplier * negative_change, negative, derivative, x, reference))


def _split(difference):
    return tf.maximum(difference, 0.0), tf.minimum(difference, 0.0)


def split_linear(step):
    """``f(P₁, N₁, P₂, N₂, …) -> (P, N)``: a linear step applied to positive and negative parts.

    Positive coefficients keep each part's sign, negative ones swap them, so
    P = L⁺P_in + L⁻N_in; the parts add up to the whole difference, so
    N = L(P_in + N_in) − P (one linear map instead of two). Offsets (biases)
    do not change differences and are left out.
    """
    positive_part, linear = _positive_part(step), _without_offset(step)

    def parts(*values):
        positive = positive_part(*values)
        wholes = [p + n for p, n in zip(values[0::2], values[1::2])]
        return positive, linear(*wholes) - positive

    return parts


def _positive_part(step):
    """``f(P₁, N₁, …) -> L⁺P + L⁻N`` of a linear step."""
    if step.kind == "weighted":
        def positive(positive_in, negative_in):
            params = step.params()
            zero = tf.zeros_like(params["bias"])
            return (step.call([positive_in], {"kernel": tf.maximum(params["kernel"], 0.0), "bias": zero})
                    + step.call([negative_in], {"kernel": tf.minimum(params["kernel"], 0.0), "bias": zero}))
        return positive
    if step.kind == "affine":
        def positive(positive_in, negative_in):
            scale = _affine_scale(step, positive_in)
            return tf.maximum(scale, 0.0) * positive_in + tf.minimum(scale, 0.0) * negative_in
        return positive
    # pooling, merges and reshapes: non-negative coefficients, no offsets
    return lambda *values: step.run(values[0::2])


def _without_offset(step):
    """``f(v₁, …) -> L v``: the linear step without its offset."""
    if step.kind == "weighted":
        def linear(value):
            params = step.params()
            return step.call([value], {"kernel": params["kernel"], "bias": tf.zeros_like(params["bias"])})
        return linear
    if step.kind == "affine":
        return lambda value: _affine_scale(step, value) * value
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
    backward walk; a reference shared by all images (a constant such as the
    default 0) is passed through the network once per chunk.

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
