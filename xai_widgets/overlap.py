"""Host work overlapped with compiled TensorFlow steps.

Both the chunked gradients of `TargetModel.gradients` and Summit's batches
alternate a compiled step (TensorFlow releases the GIL while it computes)
with numpy work on its result. `computed_ahead` runs the steps one item
ahead in a worker thread, so that the numpy work on item k, and preparing
item k + 1, overlap with the step of item k + 1 instead of adding to it.
"""

from concurrent.futures import ThreadPoolExecutor


def computed_ahead(items, compute, name="xai-widgets-steps"):
    """Yield ``(item, compute(item))`` in order, the next item's ``compute`` running meanwhile.

    ``items`` is iterated in the calling thread (so preparing an item, e.g.
    drawing noise or reading a batch, happens there, while the worker
    computes the previous one); ``compute`` runs in one worker thread. When
    an item is handed out, the worker is already computing the next one. If
    the caller stops early, the steps already started finish and are dropped,
    and the worker thread ends.

    Args:
        items: an iterable of the steps' arguments.
        compute: ``compute(item)`` → the step's result.
        name: prefix of the worker thread's name.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as worker:
        pending = None
        for item in items:
            running = worker.submit(compute, item)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (item, running)
        if pending is not None:
            yield pending[0], pending[1].result()
