"""Notebook widgets (anywidget): the attribution explorer and the comparison grid."""

from .compare import Compare, compare
from .explorer import Explorer, show
from .stream import StreamWorker, encode_frame
from .summit import SummitView, summit_view

__all__ = ["Compare", "Explorer", "StreamWorker", "SummitView", "compare", "encode_frame", "show", "summit_view"]
