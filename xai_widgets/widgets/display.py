"""What the widgets send once: colormap lookup tables, the image, the class list."""

import numpy as np

from ..baselines import infer_value_range

COLORMAPS = ("inferno", "viridis", "magma", "cividis", "gray", "bwr", "coolwarm", "RdBu_r")
TOP_CLASSES = 5

METHOD_LABELS = {
    "saliency": "Saliency",
    "gradient_x_input": "Gradient × input",
    "integrated_gradients": "Integrated Gradients",
    "smoothgrad": "SmoothGrad",
    "grad_cam": "Grad-CAM",
    "grad_cam_plus_plus": "Grad-CAM++",
    "lrp": "LRP",
    "deeplift": "DeepLIFT",
    "guided_backprop": "Guided backprop",
}


def colormap_tables(names=COLORMAPS):
    """The colormaps as 256×3 uint8 lookup tables taken from matplotlib, concatenated.

    Returns:
        ``bytes`` of length ``len(names) · 256 · 3``: table ``k`` row ``i`` is
        the RGB colour of ``colormaps[names[k]](i / 255)``.
    """
    from matplotlib import colormaps

    levels = np.linspace(0.0, 1.0, 256)
    tables = [np.round(colormaps[name](levels)[:, :3] * 255).astype(np.uint8) for name in names]
    return np.concatenate(tables).tobytes()


def display_range(image):
    """The value range that maps an image to [0, 255] for display (as `baselines.infer_value_range`)."""
    low, high = infer_value_range(np.asarray(image, dtype=np.float32))
    return (low, high) if high > low else (low, low + 1.0)


def rgb_bytes(image, value_range):
    """An ``(H, W, C)`` image as RGB uint8 bytes (grey repeated), mapped by ``value_range``."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.shape[-1] != 3:
        raise ValueError(f"the widget shows images with 1 or 3 channels; got shape {image.shape}.")
    low, high = value_range
    unit = np.clip((image - low) / (high - low), 0.0, 1.0)
    return np.round(unit * 255).astype(np.uint8).tobytes()


def top_classes(logits, class_names=None, count=TOP_CLASSES, include=None):
    """The ``count`` most probable classes as ``[{"index", "name", "probability"}]``.

    ``include`` adds a class that is not among them (an explicitly chosen target).
    """
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = list(np.argsort(-probabilities)[:count])
    if include is not None and include not in order:
        order.append(include)
    return [
        {"index": int(index), "name": class_name(class_names, int(index)), "probability": float(probabilities[index])}
        for index in order
    ]


def class_name(class_names, index):
    """The name of class ``index`` (a string, shown as text, never as HTML)."""
    if class_names is None:
        return f"class {index}"
    try:
        return str(class_names[index])
    except (IndexError, KeyError):
        return f"class {index}"


def method_label(name):
    return METHOD_LABELS.get(name, name.replace("_", " "))
