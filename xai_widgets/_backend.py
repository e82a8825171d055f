"""Import TensorFlow and Keras, refusing setups the library cannot work with.

Every method is a ``tf.GradientTape`` computation, so the package needs
TensorFlow itself and Keras running on its TensorFlow backend. Both checks
happen once, at import, with a message that says how to fix the setup.
"""

INSTALL_HINT = (
    "xai-widgets needs TensorFlow, which is not installed. Install it with one "
    "of the extras: `pip install 'xai-widgets[cpu]'` (tensorflow-cpu) or "
    "`pip install 'xai-widgets[gpu]'` (tensorflow[and-cuda]); an existing "
    "`tensorflow` installation works as well."
)


def backend_hint(backend):
    return (
        f"xai-widgets computes attributions with tf.GradientTape and needs Keras' "
        f"TensorFlow backend, but Keras is running on {backend!r}. Set the "
        "environment variable KERAS_BACKEND=tensorflow before Keras is first "
        "imported (in a notebook: restart the kernel and run `import os; "
        "os.environ['KERAS_BACKEND'] = 'tensorflow'` before any other import), "
        'or put "backend": "tensorflow" into ~/.keras/keras.json.'
    )


try:
    import tensorflow as tf
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(INSTALL_HINT) from error

import os

try:
    import keras
except ImportError as error:  # e.g. KERAS_BACKEND=jax without jax installed
    raise ImportError(backend_hint(os.environ.get("KERAS_BACKEND", "another backend"))) from error

if keras.backend.backend() != "tensorflow":
    raise ImportError(backend_hint(keras.backend.backend()))

__all__ = ["tf", "keras"]
