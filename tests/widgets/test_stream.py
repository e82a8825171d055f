"""The worker and the frame encoder, without a widget or a browser."""

import sys
import threading
import time

import numpy as np
import pytest

from xai_widgets import render
from xai_widgets.widgets.stream import StreamWorker, decode_frame, encode_frame, in_colab


def test_a_float16_frame_is_two_bytes_per_pixel_and_a_uint8_frame_one(rng):
    values = rng.normal(size=(64, 48, 3)).astype(np.float32)
    payload16, meta16 = encode_frame(values, "float16")
    payload8, meta8 = encode_frame(values, "uint8")
    assert len(payload16) == 2 * 64 * 48
    assert len(payload8) == 64 * 48
    assert (meta16["height"], meta16["width"], meta16["dtype"]) == (64, 48, "float16")
    assert meta8["dtype"] == "uint8"


def test_a_frame_is_the_signed_max_abs_map_divided_by_its_largest_magnitude(rng):
    values = rng.normal(size=(16, 12, 3)).astype(np.float32) * 7.0
    payload, meta = encode_frame(values)
    decoded = decode_frame(payload, meta)
    signed = render.aggregate_channels(values, "max_abs", signed=True)
    assert meta["scale"] == pytest.approx(float(np.abs(signed).max()), rel=1e-6)
    # float16 keeps 11 significant bits: relative error ≤ 2⁻¹¹ of the unit range
    np.testing.assert_allclose(decoded, signed / meta["scale"], atol=2.0**-11)
    # its magnitude is the seed article's max_k |A_ijk|, the Python heatmap with clip = 100
    np.testing.assert_allclose(np.abs(decoded), render.heatmap(values, "max_abs", clip=100), atol=2.0**-11)


def test_a_uint8_frame_round_trips_within_half_a_level(rng):
    values = rng.normal(size=(10, 10, 1)).astype(np.float32)
    payload, meta = encode_frame(values, "uint8")
    expected = values[..., 0] / np.abs(values).max()
    np.testing.assert_allclose(decode_frame(payload, meta), expected, atol=0.5 / 127.5 + 1e-6)


def test_an_all_zero_or_non_finite_map_encodes_as_zeros_and_bad_input_is_refused():
    payload, meta = encode_frame(np.zeros((4, 4, 3)))
    assert meta["scale"] == 0.0 and not np.any(decode_frame(payload, meta))
    values = np.ones((2, 2, 1))
    values[0, 0, 0] = np.nan
    payload, meta = encode_frame(values)
    np.testing.assert_array_equal(decode_frame(payload, meta), [[0, 1], [1, 1]])
    with pytest.raises(ValueError, match="float16"):
        encode_frame(np.ones((2, 2, 1)), dtype="float32")
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        encode_frame(np.ones((2, 2)))


def slow_job(name, chunks, delay, log):
    """A job of ``chunks`` items, each taking ``delay`` seconds; records what it computed."""

    def job(is_current):
        for index in range(chunks):
            time.sleep(delay)
            log.append((name, index))
            yield name, index

    return job


def test_a_burst_of_100_submissions_in_one_second_ends_with_exactly_the_last_jobs_items():
    worker = StreamWorker(inline=False)
    computed, published, pending_seen = [], [], []
    for value in range(100):
        worker.submit(slow_job(value, chunks=5, delay=0.03, log=computed), published.append, pytest.fail)
        pending_seen.append(worker.pending)
        time.sleep(0.01)
    submitted_last = len(published)
    assert worker.wait(timeout=10)
    assert max(pending_seen) <= 1 and worker.peak_pending <= 1
    # nothing of an older job after the last submission, and all of the last job, in order
    assert all(item[0] == 99 for item in published[submitted_last:])
    assert [item for item in published if item[0] == 99] == [(99, index) for index in range(5)]
    assert published[-5:] == [(99, index) for index in range(5)]
    # stale jobs stop at their next chunk and replaced pending jobs never start: in about one
    # second of 30 ms chunks, some 40 chunks are computed instead of 100 jobs × 5
    assert len(computed) < 100
    worker.close()


def test_a_stale_job_stops_at_its_next_chunk_boundary():
    worker = StreamWorker(inline=False)
    computed, published = [], []
    first_item = threading.Event()

    def publish(item):
        published.append(item)
        if item == ("old", 0):
            first_item.set()

    worker.submit(slow_job("old", chunks=50, delay=0.02, log=computed), publish, pytest.fail)
    assert first_item.wait(timeout=10)
    worker.submit(slow_job("new", chunks=2, delay=0.0, log=computed), publish, pytest.fail)
    old_published = len(published)
    old_computed = len([item for item in computed if item[0] == "old"])
    assert worker.wait(timeout=10)
    # at most the chunk in progress when the new job came is computed, and it is not published
    assert len([item for item in computed if item[0] == "old"]) <= old_computed + 1
    assert published[old_published:] == [("new", 0), ("new", 1)]
    worker.close()


def test_an_error_reaches_fail_and_the_worker_runs_the_next_job():
    worker = StreamWorker(inline=False)
    errors, published = [], []

    def failing(is_current):
        yield "first"
        raise RuntimeError("no second chunk")

    worker.submit(failing, published.append, errors.append)
    assert worker.wait(timeout=10)
    assert published == ["first"] and isinstance(errors[0], RuntimeError)
    worker.submit(slow_job("after", 1, 0.0, []), published.append, errors.append)
    assert worker.wait(timeout=10)
    assert published[-1] == ("after", 0) and len(errors) == 1
    worker.close()


def test_under_colab_the_job_runs_inline_and_still_publishes_every_partial(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert in_colab()
    worker = StreamWorker()
    assert worker.inline
    threads, published = [], []

    def job(is_current):
        for index in range(3):
            threads.append(threading.get_ident())
            yield index

    worker.submit(job, published.append, pytest.fail)
    assert published == [0, 1, 2]  # done when submit returns: no thread involved
    assert set(threads) == {threading.get_ident()}
    assert not worker.busy()


def test_a_closed_worker_refuses_new_jobs():
    worker = StreamWorker(inline=False)
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(slow_job("x", 1, 0.0, []), print, print)
