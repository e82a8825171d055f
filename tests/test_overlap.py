"""`computed_ahead`: steps run one item ahead in a worker thread, results come in order."""

import threading

from xai_widgets.overlap import computed_ahead


def test_the_next_item_is_computed_while_this_one_is_handled_and_items_come_in_order():
    started = [threading.Event() for _ in range(4)]

    def compute(item):
        started[item].set()
        return 2 * item

    handled = []
    for item, result in computed_ahead(range(4), compute):
        assert result == 2 * item
        if item < 3:  # the next step starts without waiting for the caller to finish with this item
            assert started[item + 1].wait(timeout=10)
        handled.append(item)
    assert handled == [0, 1, 2, 3]


def test_stopping_early_ends_the_worker_thread_and_empty_input_yields_nothing():
    results = computed_ahead(range(10), lambda item: item, name="overlap-test")
    assert next(results) == (0, 0)
    results.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("overlap-test")]
    assert list(computed_ahead([], lambda item: item)) == []
