"""Integrated Gradients (Sundararajan, Taly & Yan, 2017, "Axiomatic Attribution for Deep Networks").

The attribution of input i integrates the gradient along the straight path
from a baseline x′ to the input x,

    A_i(x) = (x_i − x′_i) · ∫₀¹ ∂F(x′ + α(x − x′)) / ∂x_i dα
           ≈ (x_i − x′_i) · Σ_k w_k · ∂F(x′ + α_k(x − x′)) / ∂x_i,

with the nodes α_k and weights w_k of an integration rule (`quadrature`).
IG is complete, Σ_i A_i = F(x) − F(x′); what a finite rule misses is
reported per image as ``delta = Σ_i A_i − (F(x) − F(x′))``.

Along the path, φ(α) = F(x′ + α(x − x′)) has the derivative
φ′(α) = (x − x′) · ∇F(x′ + α(x − x′)), so every gradient evaluation gives
φ and φ′ at its node, and forward passes give φ(0) = F(x′) and φ(1) = F(x).
``steps="auto"`` uses that: knots 0 = t_0 < … < t_n = 1 cut the path into
pieces, each integrated by the trapezoid rule on its evaluated ends (a piece
touching 0 or 1, where no gradient is taken, by the rectangle at its inner
knot). Each piece's error,

    e = estimate of ∫φ′ over [a, b] − (φ(b) − φ(a)),

is known exactly and the errors sum to delta, so the piece with the largest
|e| is halved — keeping every earlier evaluation — until
|delta| ≤ tolerance · |F(x) − F(x′)|. The first evaluation, at α = ½, is the
one-node midpoint rule.

A stack of K baselines gives the mean of the K attributions (the
expected-gradients estimate of Erion et al., 2021).
"""

import functools
import numbers

import numpy as np

from .._backend import tf
from ..baselines import NAMED, resolve_baseline
from ..model import AffineRows
from .base import Explainer
from .gradient import gradient_batch

RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gauss_legendre")
ORDERS = ("path", "refine")


def quadrature(rule, steps):
    """Nodes α_k (ascending) and weights w_k of ``rule`` with ``steps`` nodes on [0, 1].

    Every rule's weights sum to 1, so a constant gradient (a linear model)
    is integrated exactly.

    Args:
        rule: one of `RULES`.
        steps: number of nodes (gradient evaluations per path); the
            trapezoid rule needs at least 2.

    Returns:
        ``(alphas, weights)``, two float64 arrays of length ``steps``.
    """
    if rule == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    if rule == "riemann_trapezoid":
        alphas = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2.0
        return alphas, weights
    offsets = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}
    if rule not in offsets:
        raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}.")
    return (np.arange(steps) + offsets[rule]) / steps, np.full(steps, 1.0 / steps)


class StraightPaths:
    """The straight lines x′ + α(x − x′) from each of K baselines to each of N images.

    Path ``p = k·N + i`` runs from baseline k of image i to image i. Arrays
    are kept flat, one row of D = H·W·C values per path.
    """

    def __init__(self, images, baselines, targets):
        self.baselines, self.images = baselines.shape[0], len(images)
        self.count = self.baselines * self.images
        self.sample_shape = images.shape[1:]
        self.starts = baselines.reshape(self.count, -1)
        self.ends = images.reshape(self.images, -1)
        self.differences = (images[np.newaxis] - baselines).reshape(self.count, -1)
        self.targets = np.tile(targets, self.baselines)
        self._tensors = None  # bases and directions as tensors, made by the first `points`

    def points(self, paths, alphas):
        """`AffineRows` of the inputs x′_p + α(x_p − x′_p), for rows given as path indices and α values.

        Every chunk gets the same two tensors, made once: the bases (all
        baselines, then all images) and the directions x − x′. A row at
        α = 1 is the image x_p itself, exactly (x′ + 1·(x − x′) can differ
        from x in the last bit), so its output is F(x).
        """
        alphas, paths = np.asarray(alphas, dtype=np.float32), np.asarray(paths, dtype=np.int32)
        if self._tensors is None:
            bases = np.concatenate([self.starts, self.ends]).reshape(-1, *self.sample_shape)
            self._tensors = tf.constant(bases), tf.constant(self.differences.reshape(-1, *self.sample_shape))

        def parts(start, stop):
            rows, scale = paths[start:stop], alphas[start:stop]
            at_image = scale == 1.0  # reached from the image's own base with scale 0
            base_index = np.where(at_image, self.count + rows % self.images, rows).astype(np.int32)
            return (*self._tensors, base_index, rows, np.where(at_image, np.float32(0.0), scale))

        return AffineRows(len(paths), self.sample_shape, parts)

    def slopes(self, paths, gradients):
        """φ′(α) = (x − x′) · ∇F at each row: the integrand of Σ_i A_i."""
        gradients, slopes = gradients.reshape(len(paths), -1), np.empty(len(paths))
        for path, selected in rows_by_path(paths, self.count):
            slopes[selected] = np.einsum("rd,d->r", gradients[selected], self.differences[path])
        return slopes

    def per_image(self, per_path):
        """Average per-path figures ``(K·N, ...)`` over the K baselines: ``(N, ...)``."""
        if self.baselines == 1:
            return per_path
        return per_path.reshape(self.baselines, self.images, *per_path.shape[1:]).mean(axis=0)

    def attributions(self, integrals):
        """A = (x − x′) ⊙ ∫∇F per path, averaged over the baselines: ``(N, H, W, C)``."""
        return self.per_image(self.differences * integrals).reshape(self.images, *self.sample_shape)


def rows_by_path(paths, count):
    """Yield ``(path, rows)`` for each of the ``count`` paths in ``paths``; ``rows`` is a slice where it can be.

    Rows come node by node over all paths (row r is path (r₀ + r) mod count)
    or path by path, so a path's rows are evenly spaced: per-path work on
    strided views needs no gathered copies.
    """
    paths = np.asarray(paths)
    if np.array_equal(paths, (paths[0] + np.arange(len(paths))) % count):  # node by node
        for offset in range(min(count, len(paths))):
            yield paths[offset], slice(offset, None, count)
        return
    for path in np.unique(paths):
        rows = np.flatnonzero(paths == path)
        steps = np.diff(rows)
        if len(rows) == 1 or np.all(steps == steps[0]):
            yield path, slice(rows[0], rows[-1] + 1, int(steps[0]) if len(rows) > 1 else 1)
        else:
            yield path, rows


class IntegratedGradients(Explainer):
    """Integrated Gradients with a choice of integration rule and baseline.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        baseline: x′: ``"black"``, ``"white"``, ``"blur"``, ``"noise"``,
            ``"mean"``, a float, an array of an image's (or the batch's)
            shape, or a stack of K baselines whose attributions are averaged
            (see `xai_widgets.baselines`).
        steps: gradient evaluations per image and baseline, an int ≥ 1, or
            ``"auto"`` for adaptive refinement of the α grid (see the module
            doc; ``rule`` does not apply then).
        rule: ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
            ``"riemann_trapezoid"`` (default) or ``"gauss_legendre"``.
        tolerance: with ``steps="auto"``: stop once
            |delta| ≤ tolerance · |F(x) − F(x′)| (per image and baseline).
        max_steps: with ``steps="auto"``: at most this many evaluations per
            image and baseline.
        blur_sigma: Gaussian sigma in pixels of the ``"blur"`` baseline.
        seed: seed of the ``"noise"`` baseline.
        batch_size: inputs per compiled gradient call; ``None`` chooses it by timing.

    Every result carries ``baseline_outputs`` (F(x′), the mean over K
    baselines) and ``delta``; ``evaluations`` counts the gradient evaluations
    per image (with ``steps="auto"`` and a batch: an int array, one per image).

    Example:
        >>> ig = xw.IntegratedGradients(model, baseline="black", steps=32)
        >>> a = ig(image)
        >>> a.delta                       # Σ A − (F(x) − F(x′))
        >>> for partial in ig.stream(image, order="path"):
        ...     partial.info["alphas"], partial.info["partial_sums"]
    """

    method = "integrated_gradients"

    def check_options(self, baseline=0.0, steps=50, rule="riemann_trapezoid", tolerance=0.01, max_steps=256,
                      blur_sigma=5.0, seed=None):
        if isinstance(baseline, str) and baseline not in NAMED:
            raise ValueError(f"unknown baseline {baseline!r}; use one of {NAMED}, a float or an array.")
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}.")
        if steps != "auto":
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
                raise ValueError(f"steps must be an int ≥ 1 or 'auto'; got {steps!r}.")
            if rule == "riemann_trapezoid" and steps < 2:
                raise ValueError("rule 'riemann_trapezoid' needs steps ≥ 2 (both ends of the path).")
            steps = int(steps)
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not tolerance > 0:
            raise ValueError(f"tolerance must be a positive number (e.g. 0.01 = 1 %); got {tolerance!r}.")
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be an int ≥ 1; got {max_steps!r}.")
        return dict(baseline=baseline, steps=steps, rule=rule, tolerance=float(tolerance),
                    max_steps=int(max_steps), blur_sigma=blur_sigma, seed=seed)

    def stream(self, x, target=None, order=None):
        """Yield partial results; the last one equals ``self(x, target)``.

        Args:
            x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``.
            target: class index, one per image, or ``None`` (arg-max class).
            order: ``"path"`` (default for a fixed ``steps``): the integral up
                to α, with α rising from the baseline; each partial's ``info``
                has ``"alphas"`` (k,), ``"path_outputs"`` F(x′ + α(x − x′)) − F(x′)
                and ``"partial_sums"`` Σ_i A_i up to each α (both (N, k)), and
                ``delta`` = partial sum − path output at the last α.
                ``"refine"`` (the only order for ``steps="auto"``):
                coarse-to-fine estimates of the whole integral.
        """
        auto = self.options["steps"] == "auto"
        order = ("refine" if auto else "path") if order is None else order
        if order not in ORDERS:
            raise ValueError(f"order must be 'path' or 'refine'; got {order!r}.")
        if auto and order == "path":
            raise ValueError("order='path' needs a fixed number of steps: with steps='auto' the α grid is "
                             "only known at the end. Use order='refine' or an int steps.")
        # a 4-D baseline reads as K baselines of one image, or one baseline per image of a batch
        return super().stream(x, target, order=order, one_image=np.ndim(x) == 3)

    def _partials(self, images, targets, logits, order, one_image):
        options = self.options
        baselines = resolve_baseline(options["baseline"], images, one_image, blur_sigma=options["blur_sigma"],
                                     seed=options["seed"])
        paths = StraightPaths(images, baselines, targets)
        if options["steps"] == "auto":
            return _adaptive(self, paths, self._target_outputs(images, targets, logits))
        alphas, weights = quadrature(options["rule"], options["steps"])
        if order == "path":
            return _along_path(self, paths, functools.partial(self._target_outputs, images, targets, logits),
                               alphas, weights)
        return _coarse_to_fine(self, paths, self._target_outputs(images, targets, logits), alphas, weights)

    def _target_outputs(self, images, targets, logits):
        if logits is None:
            logits = self.model.logits(images, self.batch_size)
        return logits[np.arange(len(images)), targets]

    def _baseline_outputs(self, paths):
        """F(x′) of every path, by a forward pass over the baselines."""
        logits = self.model.logits(paths.starts.reshape(paths.count, *paths.sample_shape), self.batch_size)
        return logits[np.arange(paths.count), paths.targets]

    def _gradients(self, paths, row_paths, row_alphas):
        """Yield ``(start, stop, gradients (flat), φ)`` for rows given as (path, α), chunk by chunk."""
        inputs = paths.points(row_paths, row_alphas)
        for start, stop, grads, values in self.model.gradients(inputs, paths.targets[row_paths], self.batch_size):
            yield start, stop, grads.reshape(stop - start, -1), values

    def _evaluate(self, paths, row_paths, row_alphas):
        """All rows at once: ``(gradients (flat), φ, φ′)``."""
        inputs = paths.points(row_paths, row_alphas)
        grads, values = gradient_batch(self.model, inputs, paths.targets[row_paths], self.batch_size)
        grads = grads.reshape(len(row_paths), -1)
        return grads, values, paths.slopes(row_paths, grads)


def _result(paths, integrals, outputs, baseline_outputs, **fields):
    """The `Attribution` fields of IG from per-path integrals ∫∇F dα ``(K·N, D)``."""
    values = paths.attributions(integrals)
    baseline_outputs = paths.per_image(baseline_outputs)
    delta = values.reshape(len(values), -1).sum(axis=1) - (outputs - baseline_outputs)
    return dict(values=values, outputs=outputs, baseline_outputs=baseline_outputs, delta=delta, **fields)


# --------------------------------------------------------------- order="path"
def _along_path(explainer, paths, target_outputs, alphas, weights):
    """Stream ∫₀^α for α rising through the nodes; the last partial is the whole rule.

    Node k stands for the α-interval of length w_k ending at c_k = w_0 + … + w_k
    (every rule's nodes lie inside their interval), so the integral up to
    node α_k is Σ_{j<k} w_j ∇F(α_j) + (α_k − c_{k−1}) ∇F(α_k). Rows run node
    by node over all paths; a partial is reported once every path has passed
    a node.

    The path's ends cost nothing where the rule has a node there: F(x′) is
    φ(0) and F(x) is φ(1). ``target_outputs()`` (F(x) by a forward pass, or
    from logits already computed) is only called for a partial before the
    end or when the rule has no node at α = 1, and then once.
    """
    steps, count = len(alphas), paths.count
    forward = functools.cache(target_outputs)

    def outputs_at(node):
        if node == steps - 1 and alphas[-1] == 1.0:
            return path_values[-1, :paths.images].astype(np.float32)
        return forward()

    row_paths = np.tile(np.arange(count), steps)
    row_alphas = np.repeat(alphas, count)
    cell_ends = np.cumsum(weights)
    cell_ends[-1] = 1.0
    weights32 = weights.astype(np.float32)
    integrals = np.zeros_like(paths.differences)
    node_gradients = np.empty_like(paths.differences)  # the node a chunk ends in, when split over chunks
    path_values, slopes = np.empty((steps, count)), np.empty((steps, count))
    baseline_outputs = None if alphas[0] == 0.0 else explainer._baseline_outputs(paths)

    def add(first, last, grads, values, offset):
        """Add rows first:last (chunk rows first − offset: …) to the integrals and the path figures."""
        block, block_values = grads[first - offset:last - offset], values[first - offset:last - offset]
        if first % count == 0 and (last - first) % count == 0:  # whole nodes: all paths at once
            # (einsum, not a BLAS product: BLAS threads would fight TensorFlow's for the cores)
            nodes = slice(first // count, last // count)
            by_node = block.reshape(-1, count, block.shape[-1])
            integrals[:] += np.einsum("n,npd->pd", weights32[nodes], by_node)
            slopes[nodes] = np.einsum("npd,pd->np", by_node, paths.differences)
            path_values[nodes] = block_values.reshape(-1, count)
            return
        nodes, row_paths = np.divmod(np.arange(first, last), count)
        for path, selected in rows_by_path(row_paths, count):
            rows, at = block[selected], nodes[selected]
            integrals[path] += np.einsum("r,rd->d", weights32[at], rows)
            slopes[at, path] = np.einsum("rd,d->r", rows, paths.differences[path])
            path_values[at, path] = block_values[selected]

    for start, stop, grads, values in explainer._gradients(paths, row_paths, row_alphas):
        complete = stop // count * count  # rows before this one belong to nodes every path has passed
        if complete > start:
            add(start, complete, grads, values, start)
            node = complete // count - 1
            if node * count < start:  # the node began in an earlier chunk
                node_gradients[start - node * count:] = grads[:complete - start]
                gradients = node_gradients
            else:
                gradients = grads[node * count - start:complete - start]
            if baseline_outputs is None:
                baseline_outputs = path_values[0]
            yield functools.partial(_path_partial, paths, outputs_at, baseline_outputs, integrals, gradients,
                                    node, alphas, weights, cell_ends, path_values, slopes)
        if stop > max(complete, start):  # the chunk ends inside a node: keep its gradients for that node's partial
            add(max(complete, start), stop, grads, values, start)
            first = max(complete, start) % count
            node_gradients[first:first + stop - max(complete, start)] = grads[max(complete, start) - start:]


def _before_cell_end(integrals, gradients, overshoot):
    """The integrals up to a node rather than to the end of its cell: subtract (c_k − α_k) ∇F(α_k)."""
    return integrals - np.float32(overshoot) * gradients


def _path_partial(paths, outputs_at, baseline_outputs, integrals, gradients, node, alphas, weights, cell_ends,
                  path_values, slopes):
    """The fields of the partial up to node α_k (``node``), from the integrals up to the end of its cell."""
    steps, outputs = len(alphas), outputs_at(node)
    reached = integrals if node == steps - 1 else _before_cell_end(integrals, gradients, cell_ends[node] - alphas[node])
    done = slice(0, node + 1)
    # Σ_i A_i up to α_k: the integral of φ′ by the same rule, up to each node
    sums = np.cumsum(weights[done, np.newaxis] * slopes[done], axis=0)
    sums -= (cell_ends[done] - alphas[done])[:, np.newaxis] * slopes[done]
    rises = path_values[done] - baseline_outputs
    reached_alphas = alphas[done]
    if alphas[0] > 0.0:
        reached_alphas = np.concatenate([[0.0], reached_alphas])
        sums, rises = np.vstack([np.zeros(paths.count), sums]), np.vstack([np.zeros(paths.count), rises])
    if node == steps - 1 and alphas[-1] < 1.0:
        reached_alphas = np.concatenate([reached_alphas, [1.0]])
        total = np.sum(weights[:, np.newaxis] * slopes, axis=0)
        full_rise = np.tile(outputs, paths.baselines) - baseline_outputs
        sums, rises = np.vstack([sums, total]), np.vstack([rises, full_rise])
    result = _result(paths, reached, outputs, baseline_outputs, progress=(node + 1) / steps, step=node + 1,
                     total=steps, evaluations=(node + 1) * paths.baselines)
    path_outputs = paths.per_image(rises.T)
    partial_sums = paths.per_image(sums.T)
    if node < steps - 1:
        result["delta"] = result["values"].reshape(paths.images, -1).sum(axis=1) - path_outputs[:, -1]
    result["info"] = {"order": "path", "alphas": reached_alphas, "path_outputs": path_outputs,
                      "partial_sums": partial_sums}
    return result


# ------------------------------------------------------------- order="refine"
def _coarse_to_fine(explainer, paths, outputs, alphas, weights):
    """Evaluate the rule's nodes coarse to fine (1, 2, 4, … of them) and estimate the whole integral each time.

    An intermediate estimate gives each evaluated node the α-interval
    closest to it (a midpoint rule on the nodes so far); the last one is the
    rule itself, accumulated node by node as in ``order="path"``.
    """
    steps, count = len(alphas), paths.count
    baseline_outputs = explainer._baseline_outputs(paths)
    node_gradients = np.empty((steps, *paths.differences.shape), dtype=np.float32)
    evaluated = []
    order = _coarse_to_fine_order(steps)
    size = 1
    while len(evaluated) < steps:
        new = order[len(evaluated):size]
        row_paths = np.tile(np.arange(count), len(new))
        row_alphas = np.repeat(alphas[new], count)
        grads, _, _ = explainer._evaluate(paths, row_paths, row_alphas)
        node_gradients[new] = grads.reshape(len(new), count, -1)
        evaluated = sorted(evaluated + list(new))
        node_weights = weights[evaluated] if len(evaluated) == steps else _nearest_intervals(alphas[evaluated])
        integrals = np.zeros_like(paths.differences)
        for node, weight in zip(evaluated, node_weights):
            integrals += np.float32(weight) * node_gradients[node]
        yield _result(paths, integrals, outputs, baseline_outputs, progress=len(evaluated) / steps,
                      step=len(evaluated), total=steps, evaluations=len(evaluated) * paths.baselines,
                      info={"order": "refine", "nodes": alphas[evaluated]})
        size = min(steps, 2 * size)


def _coarse_to_fine_order(steps):
    """Node indices in bit-reversed order: 0, ½, ¼, ¾, … of the index range."""
    bits = max(1, int(np.ceil(np.log2(steps))))
    reversed_indices = [int(format(index, f"0{bits}b")[::-1], 2) for index in range(2**bits)]
    return np.array([index for index in reversed_indices if index < steps])


def _nearest_intervals(nodes):
    """Length of the part of [0, 1] closer to each (sorted) node than to its neighbours."""
    borders = np.concatenate([[0.0], (nodes[1:] + nodes[:-1]) / 2.0, [1.0]])
    return np.diff(borders)


# ---------------------------------------------------------------- steps="auto"
class _AdaptiveGrid:
    """One path's α grid for ``steps="auto"``: knots, the integral so far and the error of each piece.

    Knots 0 = t_0 < t_1 < … < t_n = 1 cut [0, 1] into pieces. φ is known at
    every knot: at 0 and 1 from forward passes (F(x′), F(x)), inside from the
    gradient evaluations, which also give φ′ and ∇F there. A piece is
    integrated with the trapezoid rule on its evaluated ends; a piece that
    touches 0 or 1 (never evaluated: the forward passes suffice there) takes
    the rectangle at its inner knot. So each piece's error, estimate − (φ(b) − φ(a)),
    is known exactly, and the errors add up to delta.
    """

    def __init__(self, start_value, end_value):
        self.knots, self.values = [0.0, 1.0], [start_value, end_value]
        self.slopes, self.gradients = [None, None], [None, None]
        self.integral = None

    @property
    def evaluations(self):
        return len(self.knots) - 2

    def _weights(self, piece):
        """The piece's weights on its left and right knot (0 where a knot was not evaluated)."""
        width = self.knots[piece + 1] - self.knots[piece]
        left, right = self.gradients[piece] is not None, self.gradients[piece + 1] is not None
        if left and right:
            return width / 2.0, width / 2.0
        return (width if left else 0.0), (width if right else 0.0)

    def _piece_integral(self, piece):
        total = 0.0
        for knot, weight in zip((piece, piece + 1), self._weights(piece)):
            if weight:
                total = total + np.float32(weight) * self.gradients[knot]
        return total

    def errors(self):
        """Each piece's error: its estimate of ∫φ′ minus the exact φ(b) − φ(a)."""
        errors = []
        for piece in range(len(self.knots) - 1):
            left, right = self._weights(piece)
            estimate = (left * self.slopes[piece] if left else 0.0) + (right * self.slopes[piece + 1] if right else 0.0)
            errors.append(estimate - (self.values[piece + 1] - self.values[piece]))
        return np.array(errors)

    def gap(self):
        """|delta| of the path so far."""
        return abs(self.errors().sum())

    def allowed(self, tolerance):
        return tolerance * abs(self.values[-1] - self.values[0])

    def worst_piece(self):
        return int(np.argmax(np.abs(self.errors())))

    def split_point(self, piece):
        return (self.knots[piece] + self.knots[piece + 1]) / 2.0

    def split(self, piece, alpha, gradient, value, slope):
        """Add the evaluated knot α inside ``piece`` and update the integral."""
        before = self._piece_integral(piece)
        for series, item in ((self.knots, alpha), (self.gradients, gradient), (self.values, value),
                             (self.slopes, slope)):
            series.insert(piece + 1, item)
        after = self._piece_integral(piece) + self._piece_integral(piece + 1)
        self.integral = after if self.integral is None else self.integral - before + after


def _adaptive(explainer, paths, outputs):
    """Split the piece of [0, 1] with the largest error, per path, until each path meets the tolerance."""
    tolerance, max_steps = explainer.options["tolerance"], explainer.options["max_steps"]
    baseline_outputs = explainer._baseline_outputs(paths)
    grids = [_AdaptiveGrid(start, end) for start, end in zip(baseline_outputs, np.tile(outputs, paths.baselines))]
    while True:
        requests = [(path, grid.worst_piece()) for path, grid in enumerate(grids)
                    if grid.evaluations == 0 or (grid.evaluations < max_steps and grid.gap() > grid.allowed(tolerance))]
        if all(grid.evaluations for grid in grids):
            yield _adaptive_result(paths, grids, outputs, baseline_outputs, not requests, tolerance, max_steps)
        if not requests:
            return
        alphas = np.array([grids[path].split_point(piece) for path, piece in requests])
        grads, values, slopes = explainer._evaluate(paths, np.array([path for path, _ in requests]), alphas)
        for row, (path, piece) in enumerate(requests):
            grids[path].split(piece, alphas[row], grads[row], values[row], slopes[row])


def _adaptive_result(paths, grids, outputs, baseline_outputs, done, tolerance, max_steps):
    integrals = np.stack([grid.integral for grid in grids])
    per_path = np.array([grid.evaluations for grid in grids])
    evaluations = per_path.reshape(paths.baselines, paths.images).sum(axis=0)
    spent = int(evaluations[0]) if paths.images == 1 else evaluations
    steps = int(per_path.max())
    progress = 1.0 if done else _closeness(grids, tolerance)
    return _result(paths, integrals, outputs, baseline_outputs, progress=progress, step=steps,
                   total=steps if done else max_steps, evaluations=spent,
                   info={"order": "refine", "evaluations": evaluations})


def _closeness(grids, tolerance):
    """Progress of an unfinished refinement: how close each path's |delta| is to its tolerance, on average."""
    shares = [1.0 if grid.gap() <= grid.allowed(tolerance) else grid.allowed(tolerance) / grid.gap()
              for grid in grids]
    return float(np.clip(np.mean(shares), 0.01, 0.99))


def integrated_gradients(model, x, target=None, *, baseline=0.0, steps=50, rule="riemann_trapezoid",
                         batch_size=None, **options):
    """Integrated Gradients (Sundararajan et al., 2017).

    A_i = (x_i − x′_i) · ∫₀¹ ∂F(x′ + α(x − x′))/∂x_i dα, integrated with ``rule``.

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        x: one image ``(H, W, C)`` or a batch ``(N, H, W, C)``, any real dtype.
        target: class index, one per image, or ``None`` for the arg-max class.
        baseline: x′ — a name (``"black"``, ``"white"``, ``"blur"``,
            ``"noise"``, ``"mean"``), a float, an array, or a stack of K
            baselines (averaged).
        steps: gradient evaluations per image and baseline, or ``"auto"``
            (adaptive; see ``tolerance`` and ``max_steps``).
        rule: ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
            ``"riemann_trapezoid"`` or ``"gauss_legendre"``.
        batch_size: inputs per compiled gradient call; ``None`` chooses it.
        **options: ``tolerance``, ``max_steps``, ``blur_sigma``, ``seed``, ``output``.

    Returns:
        `Attribution` with ``values`` of the shape of ``x``, ``delta`` =
        Σ A − (F(x) − F(x′)) and ``baseline_outputs`` = F(x′).

    Example:
        >>> a = xw.integrated_gradients(model, image, baseline="blur", steps="auto")
        >>> a.delta, a.evaluations
    """
    return IntegratedGradients(model, baseline=baseline, steps=steps, rule=rule, batch_size=batch_size,
                               **options)(x, target)
