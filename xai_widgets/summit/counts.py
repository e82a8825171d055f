"""The running state of a Summit pass: sparse influence counts and each channel's top dataset examples."""

from dataclasses import dataclass

import numpy as np

from ..render import as_display_image

THUMBNAIL = 32
# `SparseCounts` merges the keys it collected once there are more of them than this (and than it stores).
MERGE_AFTER = 2**16
# `Examples` keeps the batches its undrawn thumbnails come from up to this many bytes of images.
PENDING_BYTES = 2**26


class SparseCounts:
    """Integer counts on a ``(classes, next, previous)`` grid, stored as sorted flat keys and counts.

    `add` only collects the flat keys of a batch; they are sorted and merged
    into `keys` and `counts` when those are read, or once the collected keys
    outnumber both the stored ones and `MERGE_AFTER`: every merge is paid for
    by at least as many new keys, instead of a pass over all counts per batch.
    """

    def __init__(self, shape, keys=None, counts=None):
        self.shape = tuple(int(size) for size in shape)
        self._keys = np.zeros(0, np.int64) if keys is None else np.asarray(keys, np.int64)
        self._counts = np.zeros(0, np.int64) if counts is None else np.asarray(counts, np.int64)
        self._pending = []

    @property
    def keys(self):
        """Sorted flat indices into `shape` of the nonzero counts."""
        self._merge_pending()
        return self._keys

    @property
    def counts(self):
        """The count at each of `keys`."""
        self._merge_pending()
        return self._counts

    def add(self, classes, following, previous):
        """Count each ``(classes[e], following[e], previous[e])`` once."""
        self._pending.append(np.ravel_multi_index((classes, following, previous), self.shape))
        if sum(len(keys) for keys in self._pending) > max(len(self._keys), MERGE_AFTER):
            self._merge_pending()

    def _merge_pending(self):
        if not self._pending:
            return
        new = np.sort(np.concatenate(self._pending))
        self._pending = []
        new, new_counts = _runs(new, np.ones(len(new), np.int64))
        keys, counts = np.concatenate([self._keys, new]), np.concatenate([self._counts, new_counts])
        order = np.argsort(keys, kind="stable")  # two sorted runs: a merge
        self._keys, self._counts = _runs(keys[order], counts[order])

    def entries(self, class_index):
        """``(next, previous, count)`` arrays of one class's nonzero counts."""
        classes, following, previous = np.unravel_index(self.keys, self.shape)
        chosen = classes == class_index
        return following[chosen], previous[chosen], self.counts[chosen]

    def dense(self, class_index=None):
        """The counts as a dense array: ``(next, previous)`` of one class, or all ``(classes, next, previous)``."""
        if class_index is not None:
            grid = np.zeros(self.shape[1:], np.int64)
            following, previous, counts = self.entries(class_index)
            grid[following, previous] = counts
            return grid
        grid = np.zeros(int(np.prod(self.shape)), np.int64)
        grid[self.keys] = self.counts
        return grid.reshape(self.shape)


def _runs(keys, counts):
    """Sorted ``keys`` with repeats, and their ``counts``: each key once, with the sum of its counts."""
    if not len(keys):
        return keys.astype(np.int64), counts
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts].astype(np.int64), np.add.reduceat(counts, starts)


@dataclass
class Examples:
    """The top images of every channel of one layer, best first (``index`` −1 marks an empty slot).

    Attributes:
        values: channel maximum in that image ``(C, k)``.
        index: position of the image in the data ``(C, k)``.
        labels: its class ``(C, k)``.
        boxes: receptive-field crop ``(top, left, bottom, right)`` in input pixels ``(C, k, 4)``.
        thumbnails: the crops, resized, uint8 RGB ``(C, k, T, T, 3)``; after `merge`, complete once
            `draw` has run (`SummaryBuilder.summary` calls it).
    """

    values: np.ndarray
    index: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    thumbnails: np.ndarray

    def __post_init__(self):
        # Thumbnails are drawn late: most examples that enter early are pushed out again before the
        # end. ``_source`` is the first data index of the batch an undrawn slot's image is in (−1: drawn).
        self._source = np.full(self.values.shape, -1, np.int64)
        self._pending = {}  # first data index of a batch -> its `DisplayImages`

    @classmethod
    def empty(cls, channels, count, size=THUMBNAIL):
        return cls(
            values=np.full((channels, count), -np.inf, np.float32),
            index=np.full((channels, count), -1, np.int64),
            labels=np.full((channels, count), -1, np.int64),
            boxes=np.zeros((channels, count, 4), np.int32),
            thumbnails=np.zeros((channels, count, size, size, 3), np.uint8),
        )

    def merge(self, maxima, positions, images, labels, first_index, field):
        """Add a batch's images to every channel's top examples (value, then earlier image first), in place.

        An image can enter a channel's top k only if its maximum beats the
        channel's current k-th value: on equal values the earlier image
        wins, and every image of the batch comes after those already kept.
        So only the channels with such candidates are re-ranked. Thumbnails
        are drawn by `draw`, which runs here only once the batches they come
        from hold more than `PENDING_BYTES` of images.

        Args:
            maxima: the batch's channel maxima ``(n, C)``; images whose maximum is not positive never enter.
            positions: ``(n, C, 2)`` row and column of each maximum in the feature map.
            images: the batch as `DisplayImages` (shared by the layers: each image is converted once).
            labels: its classes ``(n,)``.
            first_index: position of the batch's first image in the data.
            field: the layer's `ReceptiveField` (``None``: crop the whole image).
        """
        count = self.values.shape[1]
        batch_values = np.where(maxima > 0, maxima, -np.inf).T.astype(np.float32)
        entering = batch_values > self.values[:, -1:]
        channels = np.flatnonzero(entering.any(axis=1))
        if not len(channels):
            return
        candidates = np.where(entering[channels], batch_values[channels], -np.inf)
        values = np.concatenate([self.values[channels], candidates], axis=1)
        index = np.concatenate([self.index[channels],
                                np.broadcast_to(first_index + np.arange(len(maxima)), candidates.shape)], axis=1)
        chosen = np.lexsort((index, -values), axis=1)[:, :count]
        kept = np.minimum(chosen, count - 1)  # slots of the old examples; new ones are overwritten below
        for array in (*self._arrays(), self._source):
            array[channels] = array[channels[:, np.newaxis], kept]
        row, slot = np.nonzero(chosen >= count)
        channel, image = channels[row], chosen[row, slot] - count
        self.values[channel, slot] = batch_values[channel, image]
        self.index[channel, slot] = first_index + image
        self.labels[channel, slot] = labels[image]
        self.boxes[channel, slot] = _boxes(field, positions[image, channel], images.size)
        self._source[channel, slot] = first_index
        self._pending[first_index] = images
        self._pending = {start: batch for start, batch in self._pending.items() if (self._source == start).any()}
        if sum(batch.images.nbytes for batch in self._pending.values()) > PENDING_BYTES:
            self.draw()

    def draw(self):
        """Draw the thumbnails of the examples that entered since the last call."""
        size = self.thumbnails.shape[2]
        for start, batch in self._pending.items():
            channel, slot = np.nonzero(self._source == start)
            pictures, which = np.unique(self.index[channel, slot] - start, return_inverse=True)
            self.thumbnails[channel, slot] = thumbnails(batch.pixels(pictures), which, self.boxes[channel, slot], size)
        self._source[:] = -1
        self._pending = {}

    def _arrays(self):
        return self.values, self.index, self.labels, self.boxes, self.thumbnails


class DisplayImages:
    """A batch of images, each turned into uint8 RGB (`display_pixels`) the first time a thumbnail needs it.

    Args:
        images: the batch ``(n, H, W, channels)``.
    """

    def __init__(self, images):
        self.images = images
        self.size = images.shape[1:3]
        self._pixels = {}

    def pixels(self, pictures):
        """``(len(pictures), H, W, 3)`` uint8: the images at positions ``pictures`` of the batch."""
        for picture in pictures:
            if picture not in self._pixels:
                self._pixels[picture] = display_pixels(self.images[picture])
        return np.stack([self._pixels[picture] for picture in pictures])


def _boxes(field, positions, image_size):
    """``(E, 4)`` receptive-field boxes of feature-map ``positions`` ``(E, 2)`` (the whole image if unknown)."""
    if field is None:
        return np.broadcast_to(np.array([0, 0, image_size[0], image_size[1]]), (len(positions), 4))
    return np.stack(field.box(positions[:, 0].astype(np.int64), positions[:, 1].astype(np.int64)), axis=-1)


def display_pixels(image):
    """An image as uint8 RGB for thumbnails; other channel counts than 1 or 3 show their mean as grey."""
    if image.shape[-1] not in (1, 3):
        image = image.mean(axis=-1, keepdims=True)
    return np.round(as_display_image(image) * 255).astype(np.uint8)


def thumbnails(displays, which, boxes, size=THUMBNAIL):
    """``(E, size, size, 3)``: box ``boxes[e]`` of ``displays[which[e]]``, nearest-neighbour resampled.

    Args:
        displays: uint8 RGB images ``(M, H, W, 3)``.
        which: the image of each crop ``(E,)``.
        boxes: ``(top, left, bottom, right)`` per crop ``(E, 4)``; pixels outside the image are grey.
    """
    top, left, bottom, right = np.asarray(boxes, np.int64).T
    centres = (np.arange(size) + 0.5) / size
    rows = top[:, np.newaxis] + np.floor(centres * (bottom - top)[:, np.newaxis]).astype(np.int64)
    columns = left[:, np.newaxis] + np.floor(centres * (right - left)[:, np.newaxis]).astype(np.int64)
    count, height, width = displays.shape[:3]
    # one flat index per pixel, (image · height + row) · width + column, into the RGB triples of all
    # images followed by one grey pixel: a row or column outside the image points past the end,
    # and np.minimum sends every such pixel to the grey one (no masked writes afterwards)
    grey = count * height * width
    pixels = np.concatenate([displays.reshape(-1, 3), np.full((1, 3), 128, np.uint8)])
    row_starts = np.where((rows >= 0) & (rows < height),
                          (np.asarray(which, np.int64)[:, np.newaxis] * height + rows) * width, grey)
    column_offsets = np.where((columns >= 0) & (columns < width), columns, grey)
    return np.take(pixels, np.minimum(row_starts[:, :, np.newaxis] + column_offsets[:, np.newaxis, :], grey), axis=0)
