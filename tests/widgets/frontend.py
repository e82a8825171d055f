"""The built front end the widget tests and the end-to-end tests load."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "xai_widgets" / "static" / "explorer.js"
BUNDLES = (BUNDLE, ROOT / "xai_widgets" / "static" / "summit.js")


def ensure_bundle():
    """Build the bundles (explorer.js, summit.js) with esbuild when one is missing or older than ``js/``."""
    newest_source = max(path.stat().st_mtime for path in (ROOT / "js").glob("*.js"))
    if all(bundle.is_file() and bundle.stat().st_mtime >= newest_source for bundle in BUNDLES):
        return BUNDLE
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        raise RuntimeError("the widget's front end is not built and cannot be: run `npm ci && npm run build`.")
    subprocess.run([node, "js/build.mjs"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    return BUNDLE
