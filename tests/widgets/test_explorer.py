"""The explorer without a browser: parameters in, frames out."""

import threading
import time

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets.methods.base import METHODS
from xai_widgets.widgets.display import COLORMAPS
from xai_widgets.widgets.stream import decode_frame

from .fakes import COUNTING, FrameRecorder


def counting_widget(model, image, **options):
    settings = {"steps": 4, "delay": 0.0, "fail_at": 0, **options}
    return xw.show(model, image, methods=[COUNTING], options={COUNTING: settings}, inline=False)


def front_end_change(widget, **state):
    """What the JS does on a slider move: new values plus the next request number, one message."""
    widget.set_state(dict(state, request=widget.request + 1))


def test_show_streams_every_partial_and_ends_with_the_full_result(model, image, counting):
    widget = counting_widget(model, image, steps=5)
    assert widget.wait(timeout=30)
    recorder = FrameRecorder(widget)
    widget.set_state({"options": {COUNTING: dict(widget.options[COUNTING], steps=6)}})
    assert widget.wait(timeout=30)
    metas = recorder.snapshot()
    assert [(meta["step"], meta["total"]) for meta in metas] == [(step, 6) for step in range(1, 7)]
    assert metas[-1]["progress"] == 1.0 and metas[-1]["method"] == COUNTING
    assert all(meta["elapsed_ms"] >= 0 for meta in metas)
    full = METHODS[COUNTING](model, steps=6)(image, widget.target)
    np.testing.assert_allclose(widget.attribution.values, full.values, rtol=1e-6)
    assert widget.error == ""


def test_a_frame_is_the_attributions_heatmap_in_at_most_two_bytes_per_pixel(model, image):
    widget = xw.show(model, image, methods=["saliency", "gradient_x_input"])
    assert widget.wait(timeout=30)
    height, width = image.shape[:2]
    assert len(widget.frame) <= 2 * height * width
    decoded = decode_frame(widget.frame, widget.frame_meta)
    np.testing.assert_allclose(np.abs(decoded), widget.attribution.heatmap(clip=100), atol=2.0**-11)
    expected = xw.saliency(model, image, target=widget.target)
    np.testing.assert_allclose(widget.attribution.values, expected.values, rtol=1e-5, atol=1e-7)


def test_changing_the_method_or_target_recomputes(model, image):
    widget = xw.show(model, image, methods=["saliency", "gradient_x_input"])
    assert widget.wait(timeout=30)
    other = next(entry["index"] for entry in widget.classes if entry["index"] != widget.target)
    front_end_change(widget, method="gradient_x_input", target=other)
    assert widget.wait(timeout=30)
    assert widget.frame_meta["method"] == "gradient_x_input"
    assert widget.frame_meta["request"] == widget.request == 1
    expected = xw.gradient_x_input(model, image, target=other)
    np.testing.assert_allclose(widget.attribution.values, expected.values, rtol=1e-5, atol=1e-7)


def test_a_burst_of_100_changes_in_one_second_ends_with_exactly_the_last_values_frames(model, image, counting):
    widget = counting_widget(model, image, steps=4, delay=0.03)
    assert widget.wait(timeout=30)
    recorder = FrameRecorder(widget)
    pending = []
    started = time.perf_counter()
    for change in range(100):
        steps = 5 + change % 7 if change < 99 else 12
        front_end_change(widget, options={COUNTING: dict(widget.options[COUNTING], steps=steps)})
        pending.append(widget._worker.pending)
        time.sleep(max(0.0, started + (change + 1) / 100 - time.perf_counter()))
    last_request = widget.request
    assert time.perf_counter() - started < 1.5
    assert widget.wait(timeout=30)
    metas = recorder.snapshot()
    last = [meta for meta in metas if meta["request"] == last_request]
    assert [(meta["step"], meta["total"]) for meta in last] == [(step, 12) for step in range(1, 13)]
    first_of_last = metas.index(last[0])
    assert metas[first_of_last:] == last  # the stream ends with exactly the last value's frames
    assert max(pending) <= 1 and widget._worker.peak_pending <= 1
    computed = counting.snapshot()
    # stale jobs were dropped between chunks: in about a second of 30 ms chunks some 45 chunks ran,
    # not the ~800 of running every job to its end
    assert len(computed) < 100
    assert widget.attribution.total == 12 and widget.attribution.progress == 1.0


def test_an_error_in_the_worker_is_shown_in_widget_error_and_the_widget_stays_usable(model, image, counting):
    widget = counting_widget(model, image, steps=4, fail_at=3)
    assert widget.wait(timeout=30)
    assert widget.error == "RuntimeError: chunk 3 failed on purpose"
    assert widget.attribution.step == 2  # the last partial before the failure
    front_end_change(widget, options={COUNTING: dict(widget.options[COUNTING], fail_at=0)})
    assert widget.wait(timeout=30)
    assert widget.error == "" and widget.attribution.progress == 1.0


def test_an_invalid_value_from_the_front_end_is_reported_and_no_job_starts(model, image, counting):
    widget = counting_widget(model, image)
    assert widget.wait(timeout=30)
    job = widget.frame_meta["job"]
    front_end_change(widget, options={COUNTING: dict(widget.options[COUNTING], steps=1000)})
    assert widget.wait(timeout=30)
    assert widget.error == "ValueError: steps must be in [1, 400]; got 1000."
    assert widget.frame_meta["job"] == job
    front_end_change(widget, method="no_such_method")
    assert "not offered" in widget.error


def test_the_target_picker_offers_the_top5_classes_with_names_kept_as_plain_text(model, image):
    names = [f"c{index}" for index in range(7)]
    names[3] = "<img src=x onerror=alert(1)>"
    logits = model(image[np.newaxis]).numpy()[0]
    widget = xw.show(model, image, methods=["saliency"], class_names=names, target=3)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    top5 = list(np.argsort(-probabilities)[:5])
    assert [entry["index"] for entry in widget.classes][:5] == top5
    assert 3 in [entry["index"] for entry in widget.classes]  # an explicit target is always listed
    for entry in widget.classes:
        assert entry["name"] == names[entry["index"]]
        assert entry["probability"] == pytest.approx(probabilities[entry["index"]], rel=1e-5)
    assert widget.target == 3
    widget.wait(timeout=30)


def test_the_colormaps_are_matplotlibs_lookup_tables():
    from matplotlib import colormaps

    from xai_widgets.widgets.display import colormap_tables

    tables = np.frombuffer(colormap_tables(), dtype=np.uint8).reshape(len(COLORMAPS), 256, 3)
    for index, name in enumerate(COLORMAPS):
        expected = np.round(colormaps[name](np.arange(256) / 255)[:, :3] * 255)
        np.testing.assert_array_equal(tables[index], expected)


def test_show_refuses_a_batch_an_unknown_method_and_a_bad_target(model, image):
    with pytest.raises(ValueError, match="xw.compare"):
        xw.show(model, np.stack([image, image]))
    with pytest.raises(ValueError, match="unknown method"):
        xw.show(model, image, methods=["saliency", "no_such_method"])
    with pytest.raises(ValueError, match="out of range"):
        xw.show(model, image, target=7)
    with pytest.raises(ValueError, match="not offered"):
        xw.show(model, image, methods=["saliency"], options={"smoothgrad": {"samples": 3}})


def test_wait_needs_no_front_end_and_attribution_is_readable_in_the_next_cell(model, image):
    widget = xw.show(model, image, methods=["saliency"])
    assert widget.wait(timeout=30)
    assert widget.attribution.method == "saliency" and widget.attribution.progress == 1.0
    assert threading.active_count() >= 1
    widget.close()


def test_display_settings_do_not_start_a_job(model, image):
    widget = xw.show(model, image, methods=["saliency"])
    assert widget.wait(timeout=30)
    job = widget.frame_meta["job"]
    widget.set_state({"opacity": 0.2, "cmap": "viridis", "clip": 95.0, "signed": True})
    assert widget.wait(timeout=30)
    assert widget.frame_meta["job"] == job


def test_save_html_writes_a_self_contained_page_with_the_last_frame(model, image, tmp_path, built_frontend):
    names = [f"c{index}" for index in range(7)]
    widget = xw.show(model, image, methods=["saliency"], class_names=["<img src=x onerror=alert(1)>"] + names[1:],
                     target=0)
    assert widget.wait(timeout=30)
    path = widget.save_html(tmp_path / "explorer.html")
    text = path.read_text(encoding="utf-8")
    import base64

    assert base64.b64encode(widget.frame).decode() in text
    assert "<img src=x" not in text  # class names only as escaped JSON
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in text
    assert "http://" not in text and "https://" not in text  # nothing loaded from the network
    assert '"interactive": false' in text


def test_under_colab_the_explorer_computes_inline_and_still_sends_every_partial(model, image, counting):
    widget = xw.show(model, image, methods=[COUNTING], options={COUNTING: {"steps": 3}}, inline=True)
    recorder = FrameRecorder(widget)
    threads = []
    widget.observe(lambda change: threads.append(threading.get_ident()), names="frame_meta")
    widget.set_state({"options": {COUNTING: dict(widget.options[COUNTING], steps=5)}})
    # done when the change handler returns: no worker thread, every partial published on the way
    assert [(meta["step"], meta["total"]) for meta in recorder.snapshot()] == [(step, 5) for step in range(1, 6)]
    assert set(threads) == {threading.get_ident()}
    assert widget.attribution.progress == 1.0


def test_the_grad_cam_layer_menu_lists_the_layers_with_feature_maps():
    from xai_widgets.widgets.controls import controls_for, conv_layers

    model = xw.zoo.load("shapes_cnn")
    layers = conv_layers(model)
    assert {"conv1", "conv2", "conv3", "conv4"} <= set(layers)
    assert "dense" not in layers and "logits" not in layers and "flatten" not in layers
    (layer,) = controls_for("grad_cam", {"layers": layers})
    assert layer["choices"] == [None, *layers] and layer["default"] is None


def test_the_repr_is_short_and_says_what_is_shown(model, image):
    widget = xw.show(model, image, methods=["saliency"])
    assert widget.wait(timeout=30)
    assert repr(widget) == f"Explorer(method='saliency', target={widget.target}, progress=1.00)"
