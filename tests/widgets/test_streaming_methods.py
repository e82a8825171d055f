"""IG's α scrubber and SmoothGrad's samples slider in the explorer, with the real methods."""

import numpy as np
import pytest

import xai_widgets as xw
from xai_widgets.attribution import Attribution
from xai_widgets.methods.gradient import gradient_batch
from xai_widgets.methods.integrated import IntegratedGradients
from xai_widgets.methods.smoothgrad import SmoothGrad  # noqa: F401  (registers "smoothgrad")
from xai_widgets.model import as_target_model
from xai_widgets.widgets.jobs import _extend_mean, streaming_batch_size
from xai_widgets.widgets.stream import decode_frame, encode_frame

from .fakes import FrameRecorder

IG = "integrated_gradients"
SG = "smoothgrad"


def change_options(widget, method, **values):
    options = dict(widget.options)
    options[method] = dict(options[method], **values)
    widget.set_state({"options": options, "request": widget.request + 1})


def logit(model, image, target):
    return float(model(image[np.newaxis].astype(np.float32)).numpy()[0, target])


def test_ig_at_alpha_one_is_the_plain_ig_call(model, image):
    widget = xw.show(model, image, methods=[IG], options={IG: {"steps": 24, "baseline": "black"}})
    assert widget.wait(timeout=60)
    expected = IntegratedGradients(model, steps=24, baseline="black")(image, widget.target)
    np.testing.assert_allclose(widget.attribution.values, expected.values, rtol=1e-4, atol=1e-6)
    assert widget.attribution.delta == pytest.approx(float(expected.delta), abs=1e-5)


def test_ig_alpha_scrubber_streams_the_attribution_accumulated_up_to_alpha(model, image):
    widget = xw.show(model, image, methods=[IG], options={IG: {"steps": 40, "baseline": "black"}})
    assert widget.wait(timeout=60)
    recorder = FrameRecorder(widget)
    change_options(widget, IG, alpha=0.4)
    assert widget.wait(timeout=60)
    metas = recorder.snapshot()
    # several partials, growing along the path (a ReLU net can be linear on the segment, so the
    # normalised maps may coincide; their scale, the largest |A|, grows)
    assert len(metas) >= 2 and len({meta["scale"] for meta in metas}) >= 2
    assert [meta["step"] for meta in metas] == sorted(meta["step"] for meta in metas)
    assert metas[-1]["progress"] == 1.0 and metas[-1]["alpha"] == 0.4
    baseline = np.zeros_like(image)
    point = baseline + 0.4 * (image - baseline)
    target = widget.target
    # completeness up to α: Σ A = F(x′ + α(x − x′)) − F(x′), to the rule's accuracy
    rise = logit(model, point, target) - logit(model, baseline, target)
    assert float(widget.attribution.values.sum()) == pytest.approx(rise, abs=0.02 * abs(rise) + 1e-4)
    # the α axis of the chart ends at α, where both curves are (close to) that rise
    curves = metas[-1]["curves"]
    assert curves["alphas"][0] == 0.0 and curves["alphas"][-1] == pytest.approx(0.4)
    assert curves["path_outputs"][-1] == pytest.approx(rise, rel=1e-4, abs=1e-5)
    assert curves["partial_sums"][-1] == pytest.approx(rise, abs=0.02 * abs(rise) + 1e-4)
    # the gradient frame is ∇F at x′ + α(x − x′)
    gradient, _ = gradient_batch(as_target_model(model), point[np.newaxis], np.array([target]))
    payload, meta = encode_frame(gradient[0])
    np.testing.assert_allclose(decode_frame(widget.gradient_frame, meta), decode_frame(payload, meta), atol=2e-3)


def test_ig_baseline_is_sent_for_the_interpolated_input_and_stays_fixed_while_alpha_moves(model, image):
    widget = xw.show(model, image, methods=[IG], options={IG: {"steps": 8, "baseline": "noise"}})
    assert widget.wait(timeout=60)
    first = widget.baseline_image
    assert len(first) == image.shape[0] * image.shape[1] * 3
    change_options(widget, IG, alpha=0.7)
    assert widget.wait(timeout=60)
    assert widget.baseline_image == first
    change_options(widget, IG, baseline="white")
    assert widget.wait(timeout=60)
    assert widget.baseline_image == bytes([255]) * len(first)


def test_raising_smoothgrad_samples_streams_only_the_new_samples(model, image):
    widget = xw.show(model, image, methods=[SG], options={SG: {"samples": 8, "noise": 0.2}})
    assert widget.wait(timeout=60)
    recorder = FrameRecorder(widget)
    change_options(widget, SG, samples=40)
    assert widget.wait(timeout=60)
    metas = recorder.snapshot()
    assert all(meta["reused"] == 8 for meta in metas)
    assert metas[0]["step"] > 8 and metas[-1]["step"] == 40 and metas[-1]["progress"] == 1.0
    assert len(metas) >= 2 and len(set(recorder.frames)) >= 2  # a running mean after each chunk
    assert widget.attribution.evaluations == 40 and widget.attribution.options["samples"] == 40


def test_moving_sigma_or_lowering_samples_restarts_smoothgrad(model, image):
    widget = xw.show(model, image, methods=[SG], options={SG: {"samples": 12, "noise": 0.2}})
    assert widget.wait(timeout=60)
    recorder = FrameRecorder(widget)
    change_options(widget, SG, noise=0.3)
    assert widget.wait(timeout=60)
    change_options(widget, SG, samples=6)
    assert widget.wait(timeout=60)
    metas = recorder.snapshot()
    assert all(meta["reused"] == 0 for meta in metas)
    assert metas[0]["step"] < 12 and [meta["total"] for meta in metas][-1] == 6
    assert widget.attribution.evaluations == 6


def test_with_no_noise_the_extended_smoothgrad_is_the_gradient(model, image):
    widget = xw.show(model, image, methods=[SG], options={SG: {"samples": 4, "noise": 0.0}})
    assert widget.wait(timeout=60)
    change_options(widget, SG, samples=10)
    assert widget.wait(timeout=60)
    expected = xw.saliency(model, image, target=widget.target).values
    np.testing.assert_allclose(widget.attribution.values, expected, rtol=1e-4, atol=1e-7)


def test_extending_a_running_mean_weights_old_and_new_samples_by_their_counts():
    def attribution(values, step):
        return Attribution(values=np.full((2, 2, 1), values, np.float32), method=SG, target=0, outputs=0.0,
                           options={"samples": step}, step=step, total=step, evaluations=step)

    previous = attribution(1.0, 2)
    combined = list(_extend_mean(previous, [attribution(4.0, 1), attribution(0.0, 3)], samples=5))
    np.testing.assert_allclose(combined[0].values, (2 * 1.0 + 1 * 4.0) / 3)
    np.testing.assert_allclose(combined[1].values, (2 * 1.0 + 3 * 0.0) / 5)
    assert [(a.step, a.total, a.progress, a.evaluations) for a in combined] == [(3, 5, 0.6, 3), (5, 5, 1.0, 5)]


def test_a_job_streams_about_eight_frames_whatever_its_length():
    assert streaming_batch_size({"steps": 50}) == 7
    assert streaming_batch_size({"samples": 200}) == 25
    assert streaming_batch_size({"samples": 3}) == 4
    assert streaming_batch_size({"rule": "epsilon"}) is None


def test_partial_ig_maps_carry_the_scale_of_the_whole_path_map_to_be_drawn_against(model, image):
    widget = xw.show(model, image, methods=[IG], options={IG: {"steps": 16, "baseline": "black"}})
    assert widget.wait(timeout=60)
    whole = widget.frame_meta["scale"]
    assert widget.frame_meta["reference"] is None  # nothing to compare the first whole map with
    recorder = FrameRecorder(widget)
    change_options(widget, IG, alpha=0.3)
    assert widget.wait(timeout=60)
    metas = recorder.snapshot()
    assert all(meta["reference"] == pytest.approx(whole) for meta in metas)
    assert metas[-1]["scale"] < whole  # the attribution accumulated to α = 0.3 is smaller than the whole


def test_every_registered_method_is_offered_and_computes_in_the_widget():
    model = xw.zoo.load("shapes_cnn")
    images, _, _ = xw.zoo.shapes(1, seed=2)
    widget = xw.show(model, images[0], options={SG: {"samples": 4}, IG: {"steps": 4}})
    assert [entry["name"] for entry in widget.methods][:4] == ["saliency", "gradient_x_input", IG, SG]
    assert {entry["name"] for entry in widget.methods} == set(xw.METHODS)
    for entry in widget.methods:
        widget.method = entry["name"]
        assert widget.wait(timeout=120)
        assert widget.error == "", (entry["name"], widget.error)
        assert widget.attribution.method == entry["name"] and widget.attribution.progress == 1.0
