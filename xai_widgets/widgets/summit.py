"""`SummitView`: explore a Summit `Summary` — the classes, their map and the attribution graph.

The Python class is the state (traitlets, synced with the front end): the
class list and the 2-D class map are sent once per summary; choosing a class
(the ``selected`` trait, set by a click in the page or from Python) computes
that class's attribution graph here and sends it as JSON plus one PNG sheet
of the dataset examples of its nodes (a binary trait). Class names travel as
data and are shown as text only.
"""

import io

import anywidget
import numpy as np
import traitlets as t

from ..summit import Summary
from .display import class_name
from .explorer import bundle


class SummitView(anywidget.AnyWidget):
    """The Summit explorer (what `xw.summit_view` returns).

    Args:
        summary: a `Summary`, or ``None`` to show progress first and set
            ``summary`` when the run is done.
        class_names: names of the classes (a sequence or a dict), shown as text.
        min_nodes, max_nodes: channels kept per layer in the graphs (see `Summary.graph`).

    Attributes:
        selected: the class whose graph is shown (set it to switch classes).
        graph: that graph as plain data (`AttributionGraph.to_dict` plus each
            node's examples); ``sprites`` holds their thumbnails as one PNG.
        error: the last error message ("" when the last change worked).

    Example:
        >>> view = xw.summit_view(class_names=xw.zoo.SHAPES_CLASSES)
        >>> view                                    # shows a progress bar
        >>> view.summary = xw.summarize(model, (images, labels), progress=view.report_progress)
    """

    classes = t.List(t.Dict()).tag(sync=True)
    embedding = t.List().tag(sync=True)
    selected = t.Int(-1).tag(sync=True)
    graph = t.Dict().tag(sync=True)
    sprites = t.Bytes(b"").tag(sync=True)
    sprite_size = t.Int(0).tag(sync=True)
    example_slots = t.Int(0).tag(sync=True)
    progress = t.Float(0.0).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    summary = t.Instance(Summary, allow_none=True)

    def __init__(self, summary=None, class_names=None, *, min_nodes=5, max_nodes=10):
        self._esm = bundle("summit")
        self._class_names = class_names
        self._graph_options = dict(min_nodes=min_nodes, max_nodes=max_nodes)
        super().__init__()
        self.summary = summary
        if summary is None:
            self.status = "waiting for a summary"

    # ----------------------------------------------------------------- public
    def report_progress(self, done, total=None):
        """A `summarize` progress callback: ``progress=view.report_progress``."""
        self.progress = float(done) / total if total else 0.0
        self.status = f"{done} of {total} images" if total else f"{done} images"

    # --------------------------------------------------------------- updates
    @t.observe("summary")
    def _on_summary(self, change):
        summary = change.new
        if summary is None:
            self.set_trait("classes", [])
            return
        names = self._class_names
        if names is not None and not isinstance(names, dict) and len(names) < summary.num_classes:
            raise ValueError(
                f"class_names has {len(names)} names but the summary has {summary.num_classes} classes; "
                "give one name per class (or a dict of the classes to name)."
            )
        points = summary.embedding()
        with self.hold_sync():
            self.classes = [{"index": index, "name": class_name(names, index), "images": int(count)}
                            for index, count in enumerate(summary.class_counts)]
            self.embedding = [None if np.isnan(point).any() else [float(point[0]), float(point[1])]
                              for point in points]
            self.progress = 1.0
            self.status = f"{summary.images} images · {summary.options.get('influence', '')} influence"
            self.sprite_size = int(summary.examples[0].thumbnails.shape[2])
            self.example_slots = int(summary.examples[0].thumbnails.shape[1])
        first = int(np.argmax(summary.class_counts))
        if self.selected == first:
            self._show_graph(first)
        self.selected = first

    @t.observe("selected")
    def _on_selected(self, change):
        self._show_graph(change.new)

    def _show_graph(self, class_index):
        if self.summary is None or class_index < 0:
            return
        try:
            graph = self.summary.graph(class_index, **self._graph_options)
        except ValueError as error:
            self.error = str(error)
            return
        data = graph.to_dict()
        for node in data["nodes"]:
            node["examples"] = self._examples(node["layer"], node["channel"])
        with self.hold_sync():
            self.error = ""
            self.sprites = sprite_sheet(self.summary, graph.nodes)
            self.graph = data

    def _examples(self, layer, channel):
        examples = self.summary.examples[layer]
        return [{"slot": slot, "value": float(examples.values[channel, slot]),
                 "label": int(examples.labels[channel, slot]), "index": int(examples.index[channel, slot])}
                for slot in range(examples.values.shape[1]) if examples.index[channel, slot] >= 0]


def sprite_sheet(summary, nodes):
    """One PNG with a row per node and a column per example slot (empty slots grey)."""
    from PIL import Image

    if not nodes:
        return b""
    rows = []
    for node in nodes:
        examples = summary.examples[node.layer]
        row = examples.thumbnails[node.channel].copy()  # (k, T, T, 3)
        row[examples.index[node.channel] < 0] = 128
        rows.append(np.concatenate(list(row), axis=1))
    sheet = np.concatenate(rows, axis=0)
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG")
    return buffer.getvalue()


def summit_view(summary=None, class_names=None, **options):
    """Explore a `Summary`: class list, class map and each class's attribution graph.

    Args:
        summary: a `Summary` (or ``None``: set ``view.summary`` later and pass
            ``progress=view.report_progress`` to `xw.summarize` meanwhile).
        class_names: names of the classes (a sequence or a dict), shown as text.
        **options: ``min_nodes``, ``max_nodes`` of the graphs.

    Returns:
        A `SummitView` widget.

    Example:
        >>> summary = xw.summarize(xw.zoo.load("shapes_resnet"), (images, labels))
        >>> xw.summit_view(summary, class_names=xw.zoo.SHAPES_CLASSES)
    """
    return SummitView(summary, class_names, **options)
