"""`compare`: methods side by side for one image, or a gallery of a small batch.

Every cell is its own compact `Explorer` (its own worker, its own frames), so
cells stream independently and one cell's change never resends the others.
"""

import ipywidgets
import numpy as np

from ..model import as_target_model
from .display import class_name, method_label
from .explorer import Explorer, available_methods

GALLERY_LIMIT = 16


class Compare(ipywidgets.GridBox):
    """A grid of compact explorers: rows are images, columns are methods.

    Attributes:
        cells: the `Explorer` of every cell, row by row.
        attributions: the latest `Attribution` of every cell, row by row.
    """

    def __init__(self, cells, columns):
        self.cells = list(cells)
        self.columns = columns
        layout = ipywidgets.Layout(grid_template_columns=f"repeat({columns}, max-content)", grid_gap="8px")
        super().__init__(children=self.cells, layout=layout)

    @property
    def attributions(self):
        return [cell.attribution for cell in self.cells]

    def wait(self, timeout=None):
        """Block until every cell's job is done; False if ``timeout`` (seconds, each) ran out."""
        return all([cell.wait(timeout) for cell in self.cells])

    def save_html(self, path):
        """Write the grid's last frames as a self-contained HTML page."""
        from .export import write_html

        return write_html(path, self.cells, columns=self.columns, title="xai-widgets comparison")

    def close(self):
        for cell in self.cells:
            cell.close()
        super().close()


def compare(model, image, methods=None, target=None, class_names=None, options=None, frame_dtype="float16"):
    """Show attribution methods side by side, each cell streaming on its own.

    One image ``(H, W, C)`` gives one row with a cell per method; a small batch
    ``(N, H, W, C)`` (N ≤ 16) gives a gallery, one row per image (usually with
    one method).

    Args:
        model: a Keras model (logits output) or a callable ``images -> logits``.
        image: one image or a small batch.
        methods: method names (default: every registered method).
        target: class to explain (an int, one per image, or ``None`` = arg-max).
        class_names: names of the classes, shown as text in the captions.
        options: options per method, e.g. ``{"smoothgrad": {"samples": 20}}``.

    Returns:
        A `Compare` grid; ``grid.attributions`` holds each cell's latest result.

    Example:
        >>> grid = xw.compare(model, images[0], methods=["saliency", "integrated_gradients"])
        >>> gallery = xw.compare(model, images[:6], methods=["smoothgrad"])
    """
    wrapped = as_target_model(model)
    images, single = wrapped.prepare_inputs(image)
    if len(images) > GALLERY_LIMIT:
        raise ValueError(
            f"compare shows at most {GALLERY_LIMIT} images, got {len(images)}; pass a slice such as images[:8] "
            "(use xw.attribute_dataset for whole data sets)."
        )
    names = available_methods(methods)
    targets = _targets(target, len(images))
    options = options or {}
    cells = []
    for row, pixels in enumerate(images):
        for name in names:
            cell = Explorer(wrapped, pixels, methods=[name], target=targets[row], class_names=class_names,
                            options={name: options[name]} if name in options else None,
                            compact=True, frame_dtype=frame_dtype)
            cell.title = _caption(name, row, single, len(names), cell.target, class_names)
            cells.append(cell)
    return Compare(cells, columns=len(names) if single or len(names) > 1 else min(len(images), 4))


def _targets(target, count):
    if target is None or np.ndim(target) == 0:
        return [target] * count
    targets = list(target)
    if len(targets) != count:
        raise ValueError(f"target must give one class per image: {count} image(s) but {len(targets)} targets.")
    return targets


def _caption(method, row, single, method_count, target, class_names):
    label = method_label(method)
    if single:
        return label
    image = f"image {row} · {class_name(class_names, target)}"
    return image if method_count == 1 else f"{image} · {label}"
