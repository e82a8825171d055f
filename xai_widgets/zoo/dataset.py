"""Procedural "shapes on clutter" data set with ground-truth object masks.

Every image holds exactly one *class object* (a shape from `SHAPES_CLASSES`)
drawn over a textured background together with one to three *distractor*
blobs. Only the class object decides the label, and its pixels are returned as
a boolean mask, so an attribution map can be scored against where the evidence
really is.

Everything is drawn with numpy on coordinate grids: a shape is an inside test
on the pixel coordinates expressed in the object's own rotated, scaled frame.
"""

import numpy as np

SHAPES_CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")

_CHUNK = 256
_MIN_COLOUR_DISTANCE = 0.45
_OBJECT_RADIUS = (0.13, 0.22)
_DISTRACTOR_RADIUS = (0.09, 0.17)
_MAX_DISTRACTORS = 3
_MIN_GAP = 1.0
_PIXEL_NOISE = 0.04


def shapes(n, seed=0, size=64):
    """Generate the shapes-on-clutter classification data set.

    Classes (index: name, shape in the object's own frame, circumradius R):

    - 0 `circle`: a filled disk of radius 0.85 R.
    - 1 `square`: a filled square of half-side 0.75 R.
    - 2 `triangle`: a filled equilateral triangle with circumradius R.
    - 3 `cross`: a plus sign, two bars of half-length R and half-width 0.3 R.
    - 4 `star`: a filled five-pointed star, outer radius R, inner 0.45 R.
    - 5 `ring`: an annulus between 0.55 R and R.

    Each class object has a random position (fully inside the image), radius
    (13-22 % of `size`), rotation and colour. The background is a random base
    colour with sinusoidal gratings (smooth waves and stripes) and a linear
    gradient. One to three distractors (elongated ellipses and two-lobed
    "peanuts", neither of which is a class shape) are drawn in random colours,
    each clear of the object and of the other distractors (a second or third
    distractor that finds no free room is left out). The object is drawn
    last, so it is never occluded. Colours carry no class information; the object and the
    distractors always differ clearly from the background base colour.

    Args:
        n: number of images, an int >= 1.
        seed: seed for `np.random.default_rng`; the same arguments always give
            the same arrays.
        size: image height and width in pixels, an int >= 16.

    Returns:
        A tuple `(images, labels, masks)`:
        `images` float32 `(n, size, size, 3)` in [0, 1];
        `labels` int64 `(n,)`, indices into `SHAPES_CLASSES`;
        `masks` bool `(n, size, size)`, True exactly on the pixels painted
        with the class object (the pixels that decide the label); distractors
        and background are False.

    Example:

    >>> images, labels, masks = shapes(8, seed=1)
    >>> images.shape, labels.dtype, masks.shape
    ((8, 64, 64, 3), dtype('int64'), (8, 64, 64))
    >>> SHAPES_CLASSES[labels[0]] in SHAPES_CLASSES
    True
    """
    _check_arguments(n, size)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES_CLASSES), size=n).astype(np.int64)
    images = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        images[start:stop], masks[start:stop] = _draw_chunk(labels[start:stop], size, rng)
    return images, labels, masks


def _check_arguments(n, size):
    for name, value, minimum in (("n", n, 1), ("size", size, 16)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"`{name}` must be an int, got {value!r}.")
        if value < minimum:
            raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")


def _draw_chunk(labels, size, rng):
    """Draw one image per label: background, distractors, then the class object on top."""
    count = len(labels)
    coordinates = np.arange(size, dtype=np.float32) + 0.5
    background_colour = _uniform(rng, 0.15, 0.85, (count, 3))
    images = _background(background_colour, size, rng)

    object_radius = _uniform(rng, *_OBJECT_RADIUS, count) * size
    object_centre = _uniform(rng, object_radius[:, None] + 1, size - 1 - object_radius[:, None], (count, 2))
    object_angle = _uniform(rng, 0, 2 * np.pi, count)

    _draw_distractors(images, background_colour, object_centre, object_radius, coordinates, rng)
    masks = _object_masks(labels, coordinates, object_centre, object_radius, object_angle)
    _paint(images, masks, _contrasting_colour(background_colour, rng))

    images += _PIXEL_NOISE * (2 * rng.random(size=images.shape, dtype=np.float32) - 1)
    np.clip(images, 0.0, 1.0, out=images)
    return images, masks


def _draw_distractors(images, background_colour, object_centre, object_radius, coordinates, rng):
    """Paint one to three distractors per image, each clear of the object and of each other."""
    count, size = len(images), len(coordinates)
    occupied = [(object_centre, object_radius)]
    distractor_count = rng.integers(1, _MAX_DISTRACTORS + 1, size=count)
    for slot in range(_MAX_DISTRACTORS):
        centre, radius, fits = _free_spot(occupied, size, rng)
        occupied.append((centre, radius))
        region = _distractor_region(centre, radius, coordinates, rng)
        colour = _contrasting_colour(background_colour, rng)
        # The first distractor is always drawn, so every image has at least one.
        shown = (distractor_count > slot) & (fits | (slot == 0))
        _paint(images, region & shown[:, None, None], colour)


def _object_masks(labels, coordinates, centre, radius, angle):
    """Pixels of each image's class object, using the inside test of its label."""
    masks = np.zeros((len(labels), len(coordinates), len(coordinates)), dtype=bool)
    for label, inside_test in enumerate(_CLASS_SHAPES):
        chosen = labels == label
        if chosen.any():
            u, v = _local_frame(coordinates, centre[chosen], radius[chosen], angle[chosen])
            masks[chosen] = inside_test(u, v)
    return masks


def _background(base_colour, size, rng, waves=4):
    """Base colour plus random plane waves (smooth undulations to fine stripes) and a ramp.

    A plane wave sin(a x + b y + phase) equals
    sin(a x + phase) cos(b y) + cos(a x + phase) sin(b y), so each wave is built
    from 1-D row and column profiles instead of a full-image sine.
    """
    count = len(base_colour)
    coordinates = np.arange(size, dtype=np.float32) + 0.5
    direction = _uniform(rng, 0, 2 * np.pi, (count, waves, 1))
    wavenumber = _uniform(rng, 0.5, 8.0, (count, waves, 1)) * (2 * np.pi / size)
    phase = _uniform(rng, 0, 2 * np.pi, (count, waves, 1))
    amplitude = _uniform(rng, -0.06, 0.06, (count, waves, 3))
    column_angle = wavenumber * np.cos(direction) * coordinates + phase
    row_angle = wavenumber * np.sin(direction) * coordinates
    column_profiles = np.stack([np.sin(column_angle), np.cos(column_angle)], axis=1)
    row_profiles = np.stack([np.cos(row_angle), np.sin(row_angle)], axis=1)
    texture = np.einsum("njkh,njkw,nkc->nhwc", row_profiles, column_profiles, amplitude, optimize=True)

    ramp_direction = _uniform(rng, 0, 2 * np.pi, (count, 1, 1))
    ramp = (np.cos(ramp_direction) * coordinates + np.sin(ramp_direction) * coordinates[:, None]) / size - 0.5
    texture += ramp[..., None] * _uniform(rng, -0.1, 0.1, (count, 1, 1, 3))
    texture += base_colour[:, None, None, :]
    return texture


def _contrasting_colour(background_colour, rng, candidates=32):
    """A random colour far from each background colour (first of many draws that is)."""
    count = len(background_colour)
    colours = _uniform(rng, 0.0, 1.0, (count, candidates, 3))
    distance = np.linalg.norm(colours - background_colour[:, None, :], axis=-1)
    far_enough = distance >= _MIN_COLOUR_DISTANCE
    first_far = np.argmax(far_enough, axis=1)
    chosen = colours[np.arange(count), first_far]
    fallback = np.where(background_colour > 0.5, 0.0, 1.0).astype(np.float32)
    return np.where(far_enough.any(axis=1)[:, None], chosen, fallback)


def _uniform(rng, low, high, shape):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def _paint(images, region, colour):
    image_index, row_index, col_index = np.nonzero(region)
    images[image_index, row_index, col_index] = colour[image_index]


def _local_frame(coordinates, centre, radius, angle):
    """Pixel coordinates in each object's frame: origin at its centre, unit = its radius.

    Returns `(u, v)`, each `(count, size, size)`: the image axes rotated by `angle`.
    """
    scale = radius[:, None]
    row_offset = ((coordinates - centre[:, 0:1]) / scale)[:, :, None]
    column_offset = ((coordinates - centre[:, 1:2]) / scale)[:, None, :]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    return cos * column_offset + sin * row_offset, cos * row_offset - sin * column_offset


def _free_spot(occupied, size, rng, tries=32):
    """A random disk for one distractor per image, clear of every disk in `occupied`.

    Of `tries` random centres the one farthest from the occupied disks is kept;
    `fits` is False where even that one overlaps them.
    """
    count = len(occupied[0][0])
    radius = _uniform(rng, *_DISTRACTOR_RADIUS, count) * size
    candidates = _uniform(rng, radius[:, None, None], size - radius[:, None, None], (count, tries, 2))
    gap = np.full((count, tries), np.inf, dtype=np.float32)
    for other_centre, other_radius in occupied:
        distance = np.linalg.norm(candidates - other_centre[:, None, :], axis=-1)
        gap = np.minimum(gap, distance - (other_radius + radius)[:, None] - _MIN_GAP)
    best = np.argmax(gap, axis=1)
    rows = np.arange(count)
    return candidates[rows, best], radius, gap[rows, best] >= 0


def _distractor_region(centre, radius, coordinates, rng):
    """Pixels of one distractor per image: an elongated ellipse or a two-lobed peanut."""
    count = len(centre)
    angle = _uniform(rng, 0, 2 * np.pi, count)
    u, v = _local_frame(coordinates, centre, radius, angle)
    is_peanut = rng.random(count) < 0.5
    return np.where(is_peanut[:, None, None], _peanut(u, v), _elongated_ellipse(u, v, rng))


def _elongated_ellipse(u, v, rng):
    aspect = _uniform(rng, 2.5, 4.0, (len(u), 1, 1))
    return u**2 + (v * aspect) ** 2 <= 1.0


def _peanut(u, v):
    """Two overlapping disks with a clear waist: round but never a circle or ring."""
    lobe_radius, lobe_offset = 0.5, 0.45
    v_squared = v**2
    left_lobe = (u + lobe_offset) ** 2 + v_squared <= lobe_radius**2
    right_lobe = (u - lobe_offset) ** 2 + v_squared <= lobe_radius**2
    return left_lobe | right_lobe


def _circle(u, v):
    return np.hypot(u, v) <= 0.85


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) <= 0.75


def _triangle(u, v):
    inside = np.ones(u.shape, dtype=bool)
    for edge in range(3):
        normal = 2 * np.pi * edge / 3 + np.pi / 2
        inside &= np.cos(normal) * u + np.sin(normal) * v <= 0.5
    return inside


def _cross(u, v):
    half_width = 0.3
    return ((np.abs(u) <= 1) & (np.abs(v) <= half_width)) | ((np.abs(v) <= 1) & (np.abs(u) <= half_width))


def _star(u, v, points=5, inner_radius=0.45):
    """Fold every point into one half-spike (tip on the x axis) and test one edge."""
    sector = np.pi / points
    theta = np.arctan2(v, u)
    folded = np.abs(np.mod(theta + sector, 2 * sector) - sector)
    radius = np.hypot(u, v)
    x, y = radius * np.cos(folded), radius * np.sin(folded)
    tip_x, tip_y = 1.0, 0.0
    notch_x, notch_y = inner_radius * np.cos(sector), inner_radius * np.sin(sector)
    # Same side of the tip-notch edge as the centre, where this cross product is positive.
    return (notch_x - tip_x) * (y - tip_y) - (notch_y - tip_y) * (x - tip_x) >= 0


def _ring(u, v):
    radius = np.hypot(u, v)
    return (radius >= 0.55) & (radius <= 1.0)


_CLASS_SHAPES = (_circle, _square, _triangle, _cross, _star, _ring)
