"""The running state of a Summit pass: sparse influence counts and each channel's top dataset examples."""

from dataclasses import dataclass

import numpy as np

from ..render import as_display_image

THUMBNAIL = 32


class SparseCounts:
    """Integer counts on a ``(classes, next, previous)`` grid, stored as sorted flat keys and counts."""

    def __init__(self, shape, keys=None, counts=None):
        self.shape = tuple(int(size) for size in shape)
        self.keys = np.zeros(0, np.int64) if keys is None else np.asarray(keys, np.int64)
        self.counts = np.zeros(0, np.int64) if counts is None else np.asarray(counts, np.int64)

    def add(self, classes, following, previous):
        """Count each ``(classes[e], following[e], previous[e])`` once."""
        new, new_counts = _runs(np.sort(np.ravel_multi_index((classes, following, previous), self.shape)),
                                np.ones(len(classes), np.int64))
        keys, counts = np.concatenate([self.keys, new]), np.concatenate([self.counts, new_counts])
        order = np.argsort(keys, kind="stable")  # two sorted runs: a merge
        self.keys, self.counts = _runs(keys[order], counts[order])

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
        thumbnails: the crops, resized, uint8 RGB ``(C, k, T, T, 3)``.
    """

    values: np.ndarray
    index: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    thumbnails: np.ndarray

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
        """Keep the best of the current examples and a batch's images (value, then earlier image first)."""
        channels, count = self.values.shape
        batch_values = np.where(maxima > 0, maxima, -np.inf).T.astype(np.float32)
        batch_index = np.broadcast_to(first_index + np.arange(len(maxima)), batch_values.shape)
        values = np.concatenate([self.values, batch_values], axis=1)
        index = np.concatenate([self.index, batch_index], axis=1)
        chosen = np.lexsort((index, -values), axis=1)[:, :count]
        merged = self._take(chosen)
        channel, slot = np.nonzero(chosen >= count)
        image = chosen[channel, slot] - count
        shown = np.isfinite(batch_values[channel, image])
        channel, slot, image = channel[shown], slot[shown], image[shown]
        if not len(image):
            return merged
        boxes = _boxes(field, positions[image, channel], images.shape[1:3])
        pictures, which = np.unique(image, return_inverse=True)
        displays = np.stack([display_pixels(images[picture]) for picture in pictures])
        merged.values[channel, slot] = batch_values[channel, image]
        merged.index[channel, slot] = first_index + image
        merged.labels[channel, slot] = labels[image]
        merged.boxes[channel, slot] = boxes
        merged.thumbnails[channel, slot] = thumbnails(displays, which, boxes, self.thumbnails.shape[2])
        return merged

    def _take(self, chosen):
        """The examples in the slots ``chosen`` (slot numbers past the end give empty slots)."""
        channels, count = self.values.shape
        rows = np.arange(channels)[:, np.newaxis]
        taken = Examples(*(array[rows, np.minimum(chosen, count - 1)] for array in self._arrays()))
        fresh = chosen >= count
        taken.values[fresh], taken.index[fresh], taken.labels[fresh] = -np.inf, -1, -1
        taken.boxes[fresh], taken.thumbnails[fresh] = 0, 0
        return taken

    def _arrays(self):
        return self.values, self.index, self.labels, self.boxes, self.thumbnails


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
    height, width = displays.shape[1:3]
    # one flat index per pixel, (image · height + row) · width + column: np.take copies whole RGB triples
    image_rows = (np.asarray(which, np.int64) * height)[:, np.newaxis] + np.clip(rows, 0, height - 1)
    pixels = image_rows[:, :, np.newaxis] * width + np.clip(columns, 0, width - 1)[:, np.newaxis, :]
    crops = np.take(displays.reshape(-1, 3), pixels, axis=0)
    outside = ((rows < 0) | (rows >= height))[:, :, np.newaxis] | ((columns < 0) | (columns >= width))[:, np.newaxis, :]
    crops[outside] = 128
    return crops
