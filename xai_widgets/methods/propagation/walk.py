"""The propagation walk, compiled once per model and rule set.

`Propagation` runs, inside one `tf.function`:

1. the forward pass over the canonized `Graph` (and whatever else the rule
   set needs: DeepLIFT's reference pass, the bounds for ZBox),
2. the backward walk, where the rule set maps the quantity at each step's
   output (relevance, multiplier or gradient) to its inputs,
3. the rule set's final step (e.g. DeepLIFT's multiplier × (x − x′)).

The input signature has a free batch dimension, so any number of images
reuses the compiled function; a second call costs about one forward and one
backward pass.
"""

import functools
import weakref

import numpy as np

from ..._backend import tf
from ..base import Explainer
from .canonize import fold_batch_norms
from .graph import pull_back, trace


class RuleSet:
    """What a method does at each step of the walk (subclasses: LRP, DeepLIFT, guided backprop).

    A rule set is built for one graph (so it can check every step at once
    and fail with an error naming the layer) and identified by ``key`` (the
    compiled code is cached on it).
    """

    method = None

    def __init__(self, graph):
        self.graph = graph

    @property
    def key(self):
        return (self.method,)

    def extra_specs(self, sample_shape):
        """`tf.TensorSpec`s of the extra inputs ``_walk`` takes after images and targets."""
        return []

    def prepare(self, values, extras):
        """The state the rules need: the forward ``values`` (``{tensor id: value}``) and what else they use."""
        return {"values": values}

    def start(self, logits, targets, state):
        """The quantity at the output: one-hot on the target class."""
        return tf.one_hot(targets, tf.shape(logits)[-1], dtype=logits.dtype)

    def propagate(self, step, incoming, state):
        """One quantity per input of ``step`` from the quantity at its output."""
        raise NotImplementedError

    def finish(self, quantity, state):
        """The fields returned to the method (at least ``values``) from the quantity at the input."""
        return {"values": quantity}

    def inputs_of(self, step, state):
        """The forward values of the step's inputs."""
        return [state["values"][index] for index in step.inputs]


def chain_rule(step, inputs, incoming):
    """The plain gradient: Jᵀ · incoming, with J the step's Jacobian at ``inputs``."""
    return pull_back(lambda *values: step.run(values), inputs, incoming)[1]


class Propagation:
    """One compiled forward + backward walk of ``graph`` with ``rules``.

    Call it with a float32 batch, int32 targets and the rule set's extra
    inputs; it returns a dict of numpy arrays (``values``, ``outputs`` and
    what the rule set adds).
    """

    def __init__(self, graph, rules, sample_shape):
        self.graph = graph
        self.rules = rules
        self.traces = 0
        specs = [tf.TensorSpec((None, *sample_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
        # a partial, not the bound method: TensorFlow counts traces per code object and would warn
        # about "retracing" when several models or rule sets are compiled, though each traces once
        self._compiled = tf.function(functools.partial(Propagation._walk, self),
                                     input_signature=specs + rules.extra_specs(sample_shape), autograph=False)

    def __call__(self, images, targets, *extras):
        result = self._compiled(np.asarray(images, np.float32), np.asarray(targets, np.int32),
                                *[np.asarray(extra, np.float32) for extra in extras])
        return {name: value.numpy() for name, value in result.items()}

    def _walk(self, images, targets, *extras):
        self.traces += 1
        values = self.graph.forward(images)
        state = self.rules.prepare(values, extras)
        logits = values[self.graph.output]
        start = self.rules.start(logits, targets, state)
        quantity = self.graph.backward(start, lambda step, incoming: self.rules.propagate(step, incoming, state))
        if quantity is None:
            quantity = tf.zeros_like(images)
        result = self.rules.finish(quantity, state)
        result["outputs"] = tf.gather(logits, targets, axis=1, batch_dims=1)
        return result


_CACHE = weakref.WeakKeyDictionary()


def canonical_graph(target_model, method):
    """The traced, BatchNorm-folded graph of a `TargetModel` (cached per model)."""
    if target_model.keras_model is None:
        raise ValueError(
            f"{method} walks the layers of a Sequential or Functional Keras model; {target_model.name!r} is a "
            "callable or a subclassed model, whose layers cannot be walked. Pass a Functional model "
            "(e.g. keras.Model(inputs, outputs)), or use a gradient method."
        )
    cache = _CACHE.setdefault(target_model, {})
    if "graph" not in cache:
        cache["graph"] = fold_batch_norms(trace(target_model.keras_model, method))
    return cache["graph"]


def compiled_propagation(target_model, rules):
    """The cached `Propagation` of ``rules`` on ``target_model`` (compiled on its first call)."""
    cache = _CACHE.setdefault(target_model, {})
    key = ("propagation", rules.key)
    if key not in cache:
        cache[key] = Propagation(rules.graph, rules, target_model.sample_shape)
    return cache[key]


class PropagationExplainer(Explainer):
    """An `Explainer` whose attributions come from one `Propagation` walk (LRP, DeepLIFT, guided backprop).

    Subclasses build their `RuleSet` in ``make_rules(graph)``; the graph is
    traced and canonized when the explainer is made, so an unsupported layer
    fails at once.
    """

    def __init__(self, model, **options):
        super().__init__(model, **options)
        self.rules = self.make_rules(canonical_graph(self.model, self.method))

    def make_rules(self, graph):
        raise NotImplementedError

    @property
    def propagation(self):
        return compiled_propagation(self.model, self.rules)

    def propagate(self, images, targets, per_image=(), shared=()):
        """Run the compiled walk chunk by chunk; return its fields for the whole batch.

        ``per_image`` extras are split with the images, ``shared`` ones are
        passed whole to every chunk.
        """
        parts = []
        for start, stop in self.model.chunks(images, self.batch_size):
            parts.append(self.propagation(images[start:stop], targets[start:stop],
                                          *[extra[start:stop] for extra in per_image], *shared))
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
