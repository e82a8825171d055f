"""The BatchNorm canonizer: fold each BatchNormalization into the Conv/Dense before it.

At inference a BatchNormalization is the affine map y = s ⊙ z + t per channel,
with s = γ / √(σ² + ε) and t = β − μ s. When it directly follows a linear
layer z = W a + b whose output nothing else reads, the two are one linear layer

    y = (W s) a + (b s + t),

so LRP rules see one layer with the weights that really act on ``a``
(Montavon et al. 2019, "Layer-wise relevance propagation: an overview",
§10.3; zennit's canonizers). The folded weights are computed from the
layer variables at every call: the user's model is never modified.
"""

from dataclasses import replace

from ..._backend import keras


def fold_batch_norms(graph):
    """A copy of ``graph`` with every foldable BatchNormalization merged into its linear layer.

    A BatchNormalization is folded when its input is the output of a weighted
    step (Dense, Conv, DepthwiseConv, the pointwise half of SeparableConv)
    that no other step reads. Others stay as elementwise affine steps.

    Returns:
        A new `Graph`; each folded step records the BatchNormalization in ``folded``.
    """
    producers = graph.producers()
    consumers = graph.consumers()
    folds = {}  # weighted step -> batch-norm step
    for step in graph.steps:
        source = producers.get(step.inputs[0]) if step.inputs else None
        if (isinstance(step.layer, keras.layers.BatchNormalization) and source is not None
                and source.kind == "weighted" and source.folded is None and source not in folds
                and len(consumers[source.output]) == 1):
            folds[source] = step
    folded_norms = set(folds.values())
    steps = []
    for step in graph.steps:
        if step in folded_norms:
            continue
        if step in folds:
            step = _merge(step, folds[step])
        steps.append(step)
    return graph.with_steps(steps)


def _merge(linear, norm):
    def params():
        weights, affine = linear.params(), norm.params()
        return {"kernel": linear.scale_output(weights["kernel"], affine["scale"]),
                "bias": weights["bias"] * affine["scale"] + affine["shift"]}

    return replace(linear, output=norm.output, params=params, folded=norm.layer)


def folded_layers(graph):
    """``[(linear layer name, batch-norm layer name), ...]`` of a canonized graph."""
    return [(step.name, step.folded.name) for step in graph.steps if step.folded is not None]
