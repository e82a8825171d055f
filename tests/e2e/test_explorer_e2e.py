"""The explorer in a real browser against JupyterLab and Notebook 7 (Playwright + Debian chromium).

Prints, and does not assert, the time from a slider change to the first and
to the last new frame on screen.
"""

import functools
import json
import os
import time
from pathlib import Path

import pytest

from .servers import is_jupyters_own, run_all_cells, watched_page, write_notebook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# the README's screenshot is refreshed with XW_SCREENSHOT=docs/explorer.png; by default it stays in the temp dir
SCREENSHOT = os.environ.get("XW_SCREENSHOT")
XSS_NAME = "<img src=x onerror=alert(1)>"

CELLS = [
    """import numpy as np
import xai_widgets as xw

model = xw.zoo.load("shapes_cnn")
images, labels, masks = xw.zoo.shapes(4, seed=1)
names = list(xw.zoo.SHAPES_CLASSES)
runner_up = int(np.argsort(model(images[:1]).numpy()[0])[-2])
names[runner_up] = "<img src=x onerror=alert(1)>"  # listed in the target picker: must show as text""",
    """widget = xw.show(model, images[0], class_names=names,
                 options={"smoothgrad": {"samples": 20}, "integrated_gradients": {"steps": 32}})
widget""",
]

RECORDER = """() => {
  const root = document.querySelector(".xw-explorer");
  const canvas = root.querySelector("canvas.xw-canvas");
  const hash = () => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let value = 0;
    for (let i = 0; i < data.length; i += 1) value = (Math.imul(value, 31) + data[i]) >>> 0;
    return value;
  };
  window.__xw = { log: [], hash, t0: 0 };
  new MutationObserver(() => {
    const d = root.dataset;
    window.__xw.log.push({ t: performance.now(), job: Number(d.job), step: Number(d.step), total: Number(d.total),
      progress: Number(d.progress), method: d.method, hash: hash() });
  }).observe(root, { attributes: true, attributeFilter: ["data-frames"] });
}"""

MOVE = """([name, value]) => {
  const input = document.querySelector(`.xw-explorer input[name="${name}"]`);
  window.__xw.start = window.__xw.log.length;
  window.__xw.job = Number(document.querySelector(".xw-explorer").dataset.job);
  window.__xw.t0 = performance.now();
  input.value = String(value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}"""

DONE = """() => window.__xw.log.slice(window.__xw.start).some((e) => e.job > window.__xw.job && e.progress === 1)"""

PIXELS = """(opacity) => {
  const input = document.querySelector('.xw-explorer input[name="opacity"]');
  input.value = String(opacity);
  input.dispatchEvent(new Event("input", { bubbles: true }));
  const canvas = document.querySelector(".xw-explorer canvas.xw-canvas");
  return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
}"""

OPACITY_WITHOUT_KERNEL = """() => {
  // one synchronous task: no message can reach or come back from the kernel in between
  const input = document.querySelector('.xw-explorer input[name="opacity"]');
  const before = window.__xw.hash();
  input.value = "0.15";
  input.dispatchEvent(new Event("input", { bubbles: true }));
  return [before, window.__xw.hash()];
}"""


def wait_for_method(page, method, timeout=120_000):
    """Wait until ``method`` has drawn its last frame (fail at once on a traceback in the notebook)."""
    page.wait_for_function(
        """(method) => { const d = document.querySelector(".xw-explorer")?.dataset;
             const traceback = document.querySelector(".jp-OutputArea-output .ansi-red-fg");
             return (d && d.method === method && d.progress === "1") || traceback; }""",
        arg=method, timeout=timeout)
    assert page.locator(".xw-explorer").get_attribute("data-method") == method, "a cell failed"


def move_slider(page, name, value, timeout=120_000):
    """Move a compute slider; return (frames of the new job, ms to the first and last new frame)."""
    page.evaluate(MOVE, [name, value])
    page.wait_for_function(DONE, timeout=timeout)
    state = page.evaluate("() => window.__xw")
    frames = [entry for entry in state["log"][state["start"]:] if entry["job"] > state["job"]]
    last = next(entry for entry in frames if entry["progress"] == 1)
    return frames, frames[0]["t"] - state["t0"], last["t"] - state["t0"]


def select_method(page, method):
    page.select_option(".xw-explorer select.xw-method", method)
    wait_for_method(page, method)


def test_explorer_streams_slider_changes_into_the_canvas(browser, jupyter, e2e_dir):
    name = write_notebook(jupyter.root, "explorer.ipynb", CELLS)
    failure, jupyters_own = e2e_dir / f"failure-{jupyter.app}.png", functools.partial(is_jupyters_own, jupyter.app)
    with watched_page(browser, failure, ignore=jupyters_own) as (page, problems, dialogs):
        page.goto(jupyter.url(name), wait_until="domcontentloaded")
        jupyter.wait_for_idle_kernel()
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        run_all_cells(page)
        wait_for_method(page, "saliency", timeout=240_000)
        page.evaluate(RECORDER)

        # the class name is text, never markup
        options = page.locator(".xw-explorer select.xw-target option").all_text_contents()
        assert len(options) == 5 and any(option.startswith(XSS_NAME) for option in options), options
        assert page.locator(".xw-explorer img").count() == 0

        # a non-empty heatmap: at opacity 1 the canvas shows many colours, unlike the image alone
        image_only = page.evaluate(PIXELS, 0)
        heatmap = page.evaluate(PIXELS, 1)
        colours = {tuple(heatmap[i:i + 3]) for i in range(0, len(heatmap), 4)}
        changed = sum(heatmap[i:i + 3] != image_only[i:i + 3] for i in range(0, len(heatmap), 4))
        assert len(colours) >= 16 and changed > 0.5 * len(heatmap) / 4

        # opacity acts on the canvas within one synchronous task: no kernel round trip
        before, after = page.evaluate(OPACITY_WITHOUT_KERNEL)
        assert before != after

        timings = {}
        select_method(page, "smoothgrad")
        frames, first, last = move_slider(page, "samples", 60)
        assert frames[-1]["total"] == 60 and frames[-1]["progress"] == 1
        assert len({frame["hash"] for frame in frames}) >= 2, frames
        timings["smoothgrad samples 20→60"] = (first, last, len(frames))

        select_method(page, "integrated_gradients")
        frames, first, last = move_slider(page, "alpha", 0.5)
        assert frames[-1]["progress"] == 1 and frames[-1]["method"] == "integrated_gradients"
        assert len({frame["hash"] for frame in frames}) >= 2, frames
        timings["IG α 1→0.5"] = (first, last, len(frames))
        page.evaluate(PIXELS, 0.6)

        for label, (first, last, count) in timings.items():
            print(f"[{jupyter.app}] {label}: first new frame {first:.0f} ms, last {last:.0f} ms ({count} frames)")
        (e2e_dir / f"latency-{jupyter.app}.json").write_text(json.dumps(timings))
        if jupyter.app == "lab":
            move_slider(page, "alpha", 0.85)  # most of the path: a clearer picture for the README
            screenshot = Path(SCREENSHOT) if SCREENSHOT else e2e_dir / "explorer.png"
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.add_style_tag(content=".Toastify { display: none !important; }")  # JupyterLab's news toast
            time.sleep(0.2)
            page.locator(".xw-explorer").screenshot(path=str(screenshot))

        assert dialogs == []
        assert problems == []
