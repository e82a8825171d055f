"""The ``xai-widgets`` command: attribution maps from the shell.

Examples:
    xai-widgets methods
    xai-widgets explain model.keras cat.png --method integrated_gradients --out cat_ig.png
    xai-widgets explain shapes_cnn --zoo-image 3 --method smoothgrad --option samples=20
"""

import argparse
import ast
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="xai-widgets", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("methods", help="list the available attribution methods")
    explain = commands.add_parser("explain", help="write the attribution map of one image as a PNG")
    explain.add_argument("model", help="a .keras file, or the name of a bundled zoo model")
    explain.add_argument("image", nargs="?", help="an image file (PNG, JPEG, ...)")
    explain.add_argument("--zoo-image", type=int, metavar="I", help="use image I of xw.zoo.shapes instead of a file")
    explain.add_argument("--method", "-m", default="integrated_gradients")
    explain.add_argument("--target", "-t", type=int, default=None, help="class index (default: arg-max)")
    explain.add_argument("--option", "-o", action="append", default=[], metavar="NAME=VALUE",
                         help="a method option, e.g. steps=64 or rule='gauss_legendre' (repeatable)")
    explain.add_argument("--out", default="attribution.png", help="PNG file to write")
    explain.add_argument("--logits", action="store_true", help="strip a final softmax (output='logits')")
    args = parser.parse_args(argv)

    import xai_widgets as xw

    if args.command == "methods":
        print("\n".join(sorted(xw.METHODS)))
        return 0
    model = xw.zoo.load(args.model) if args.model in xw.zoo.MODELS else _load_keras(args.model)
    image = _load_image(args, model)
    options = dict(_parse_option(text) for text in args.option)
    if args.logits:
        options["output"] = "logits"
    result = xw.explain(model, image, method=args.method, target=args.target, **options)
    result.to_png(args.out, image=image)
    summary = f"{args.method}: class {result.target}, F(x) = {float(result.outputs):.4g}"
    if result.delta is not None:
        summary += f", completeness gap {float(result.delta):.3g}"
    print(f"{summary} -> {args.out}")
    return 0


def _load_keras(path):
    from ._backend import keras

    return keras.saving.load_model(path, compile=False)


def _load_image(args, model):
    import numpy as np

    import xai_widgets as xw

    if args.zoo_image is not None:
        images, _, _ = xw.zoo.shapes(args.zoo_image + 1)
        return images[args.zoo_image]
    if args.image is None:
        sys.exit("xai-widgets explain: give an image file or --zoo-image I")
    from PIL import Image

    height, width = model.inputs[0].shape[1:3] if hasattr(model, "inputs") else (None, None)
    picture = Image.open(args.image).convert("RGB")
    if height and width:
        picture = picture.resize((width, height))
    return np.asarray(picture, dtype=np.float32) / 255.0


def _parse_option(text):
    name, separator, value = text.partition("=")
    if not separator:
        sys.exit(f"xai-widgets explain: option {text!r} must look like NAME=VALUE")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


if __name__ == "__main__":
    sys.exit(main())
