"""`Summary`, what `summarize` returns, the builder that fills it batch by batch, and its file format."""

import json
from dataclasses import dataclass, field

import numpy as np

from .counts import DisplayImages, Examples, SparseCounts
from .graph import attribution_graph

# 2: influence is counted into every next-layer channel (``into="all"``) unless the options say "kept".
FORMAT_VERSION = 2


class SummaryBuilder:
    """The running sums of one `summarize` pass; `add` takes one batch's gathered probe results.

    Args:
        keras_model, layers, fields: the model, its chosen layers and their receptive fields.
        num_classes: the model's classes.
        into: ``"all"`` (influence rows are every next channel) or ``"kept"``
            (row r is the image's r-th kept channel).
        examples: top images kept per channel.
    """

    def __init__(self, keras_model, layers, fields, num_classes, into, examples):
        self.model_name = keras_model.name
        self.layers = [layer.name for layer in layers]
        self.channels = [int(layer.output.shape[-1]) for layer in layers]
        self.fields = fields
        self.num_classes = int(num_classes)
        self.into = into
        self.class_counts = np.zeros(self.num_classes, np.int64)
        self.activations = [np.zeros((self.num_classes, channels), np.int64) for channels in self.channels]
        self.influences = [SparseCounts((self.num_classes, following, previous))
                           for previous, following in zip(self.channels, self.channels[1:])]
        self.examples = [Examples.empty(channels, examples) for channels in self.channels]
        self.images = 0

    def check_labels(self, labels):
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f"label {bad[0]} is out of range: the model has {self.num_classes} classes "
                             f"(0 to {self.num_classes - 1}).")

    def add(self, images, labels, results):
        np.add.at(self.class_counts, labels, 1)
        displays = DisplayImages(images)
        for layer, maxima in enumerate(results["maxima"]):
            kept = results["kept"][layer]
            image, rank = np.nonzero(kept >= 0)
            np.add.at(self.activations[layer], (labels[image], kept[image, rank]), 1)
            self.examples[layer].merge(maxima, results["positions"][layer], displays, labels, self.images,
                                       self.fields[layer])
        for pair, top in enumerate(results["top_influences"]):
            rows = results["kept"][pair + 1] if self.into == "kept" else np.arange(top.shape[1])[np.newaxis]
            image, row, place = np.nonzero(top >= 0)
            following = np.broadcast_to(rows, top.shape[:2])[image, row]
            self.influences[pair].add(labels[image], following, top[image, row, place])
        self.images += len(images)

    def summary(self, options):
        for examples in self.examples:
            examples.draw()
        return Summary(
            layers=tuple(self.layers), channels=tuple(self.channels), class_counts=self.class_counts,
            activations=self.activations, influences=self.influences, examples=self.examples,
            options=dict(options), model_name=self.model_name,
            fields=[None if item is None else vars(item).copy() for item in self.fields],
        )


@dataclass(eq=False)
class Summary:
    """What `summarize` returns: Summit's aggregated matrices, examples and graphs.

    Attributes:
        layers: names of the summarised layers, in graph order.
        channels: channel count of each layer.
        class_counts: images per class ``(classes,)``.
        activations: per layer, the aggregated activation matrix ``(classes, C)``:
            how many images of each class counted each channel.
        influences: per consecutive pair of layers, the aggregated influence
            counts ``(classes, C_next, C_previous)`` as `SparseCounts`: how
            many images of each class had previous channel i among the
            ``top_k`` positive influences on next channel j — for every next
            channel, or only for the image's kept ones if ``options["into"]``
            is ``"kept"``.
        examples: per layer, the top images of every channel (`Examples`).
        options: the options of the run (mass, top_channels, top_k, influence, into, examples).
        model_name: the summarised model's name.
        fields: per layer, the receptive field as a dict (``None`` = unknown).

    Example:
        >>> summary.save("shapes.summit.npz")
        >>> summary = xw.Summary.load("shapes.summit.npz")
        >>> summary.graph(summary.class_counts.argmax())
    """

    layers: tuple
    channels: tuple
    class_counts: np.ndarray
    activations: list
    influences: list
    examples: list
    options: dict = field(default_factory=dict)
    model_name: str = ""
    fields: list = field(default_factory=list)

    @property
    def num_classes(self):
        return len(self.class_counts)

    @property
    def images(self):
        return int(self.class_counts.sum())

    def layer_index(self, layer):
        """The position of ``layer`` (a name or an index) in `layers`."""
        if isinstance(layer, str):
            if layer not in self.layers:
                raise ValueError(f"layer {layer!r} is not summarised; the summary has {list(self.layers)}.")
            return self.layers.index(layer)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(self.layers):
            raise ValueError(f"layer must be a name in {list(self.layers)} or an index below {len(self.layers)}; "
                             f"got {layer!r}.")
        return int(layer)

    def influence_matrix(self, layer, class_index=None):
        """Dense influence counts into ``layer`` (the later layer of a pair) from the layer before it.

        Returns:
            ``(C_next, C_previous)`` for one class, or ``(classes, C_next, C_previous)``.
        """
        index = self.layer_index(layer)
        if index == 0:
            raise ValueError(f"layer {self.layers[0]!r} is the first summarised layer; nothing feeds it.")
        if class_index is not None:
            self._check_class(class_index)
        return self.influences[index - 1].dense(class_index)

    def graph(self, class_index, min_nodes=3, max_nodes=10, damping=0.85):
        """The attribution graph of one class (Summit).

        Every channel of every layer is a node; an edge runs from a channel to
        each channel of the previous layer it counted among its top
        influences, weighted by the class's count. Scores are a personalised
        PageRank whose walk follows those edges back towards the input (a
        channel matters if it feeds channels that matter) and restarts in
        proportion to the class's activation counts. Each layer then keeps
        its ``n`` best-scoring channels, ``n`` growing from ``min_nodes``
        until every pair of consecutive layers is joined by an edge (or
        ``max_nodes`` is reached; then ``connected`` is False).

        Args:
            class_index: the class.
            min_nodes, max_nodes: bounds of the channels kept per layer.
            damping: PageRank's probability of following an edge.

        Returns:
            An `AttributionGraph`.
        """
        self._check_class(class_index)
        return attribution_graph(self, class_index, min_nodes, max_nodes, damping)

    def embedding(self):
        """A 2-D map of the classes: PCA of their activation profiles.

        A class's profile is its activation counts over all layers divided by
        its number of images (how often each channel counts for it).

        Returns:
            ``(classes, 2)`` float array; NaN rows for classes without images.
        """
        rates = np.concatenate(self.activations, axis=1) / np.maximum(self.class_counts, 1)[:, np.newaxis]
        present = self.class_counts > 0
        points = np.full((self.num_classes, 2), np.nan)
        if not present.any():
            return points
        centred = rates[present] - rates[present].mean(axis=0)
        _, _, directions = np.linalg.svd(centred, full_matrices=False)
        directions = directions[:2] * np.sign(directions[:2][np.arange(len(directions[:2])),
                                                             np.abs(directions[:2]).argmax(axis=1)])[:, None]
        coordinates = np.zeros((int(present.sum()), 2))
        coordinates[:, :len(directions)] = centred @ directions.T
        points[present] = coordinates
        return points

    def _check_class(self, class_index):
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
                or not 0 <= class_index < self.num_classes:
            raise ValueError(f"class_index must be an int in [0, {self.num_classes}); got {class_index!r}.")

    # --------------------------------------------------------------- files
    def save(self, path):
        """Write the summary to one ``.npz`` file (arrays plus a JSON header; no pickled objects).

        Returns:
            ``path``.
        """
        meta = dict(format=FORMAT_VERSION, layers=list(self.layers), channels=list(self.channels),
                    options=self.options, model_name=self.model_name, fields=self.fields,
                    num_classes=self.num_classes)
        arrays = {"meta": np.array(json.dumps(meta)), "class_counts": self.class_counts}
        for layer, counts in enumerate(self.activations):
            arrays[f"activations_{layer}"] = counts
            for name, array in zip(("values", "index", "labels", "boxes", "thumbnails"), self.examples[layer]._arrays()):
                arrays[f"examples_{layer}_{name}"] = array
        for pair, influence in enumerate(self.influences):
            arrays[f"influences_{pair}_keys"], arrays[f"influences_{pair}_counts"] = influence.keys, influence.counts
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read a summary written by `save`.

        Example:
            >>> summary = xw.Summary.load("shapes.summit.npz")
        """
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path} holds summary format {meta.get('format')!r}; this version reads "
                                 f"format {FORMAT_VERSION}. Recompute it with xw.summarize.")
            layers, channels, classes = meta["layers"], meta["channels"], meta["num_classes"]
            return cls(
                layers=tuple(layers), channels=tuple(channels), class_counts=stored["class_counts"],
                activations=[stored[f"activations_{layer}"] for layer in range(len(layers))],
                influences=[SparseCounts((classes, channels[pair + 1], channels[pair]),
                                         stored[f"influences_{pair}_keys"], stored[f"influences_{pair}_counts"])
                            for pair in range(len(layers) - 1)],
                examples=[Examples(*(stored[f"examples_{layer}_{name}"]
                                     for name in ("values", "index", "labels", "boxes", "thumbnails")))
                          for layer in range(len(layers))],
                options=meta["options"], model_name=meta["model_name"], fields=meta["fields"],
            )

    def __repr__(self):
        layers = ", ".join(f"{name}({channels})" for name, channels in zip(self.layers, self.channels))
        return (f"Summary(model={self.model_name!r}, images={self.images}, classes={self.num_classes}, "
                f"layers=[{layers}], influence={self.options.get('influence')!r})")
