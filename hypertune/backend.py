"""Which Keras backend trains: JAX when it is installed, else TensorFlow.

Measured on 2 CPU cores (``bench/epoch.py``), an epoch of a 784-512-512-10 MLP on MNIST takes
about 1.4x the numpy matmul floor on JAX and 2.1-2.3x on TensorFlow, with the same accuracy; so
hypertune trains on JAX unless ``--backend`` or ``KERAS_BACKEND`` says otherwise. The backend is
fixed when Keras is first imported, so it must be chosen before that.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec

from hypertune._logging import get_logger
from hypertune.errors import BadInputError

BACKENDS = ("jax", "tensorflow", "torch")
_log = get_logger(__name__)


def select_backend(requested: str | None = None) -> str:
    """Set ``KERAS_BACKEND`` from ``requested``, the environment, or the fastest installed."""
    if "keras" in sys.modules:
        import keras

        current: str = keras.backend.backend()
        if requested and requested != current:
            _log.warning(
                "warning: Keras already runs on %s; --backend %s is ignored", current, requested
            )
        return current
    chosen = requested or os.environ.get("KERAS_BACKEND") or default_backend()
    if chosen in BACKENDS and find_spec(chosen) is None:
        raise BadInputError(
            f"the Keras backend '{chosen}' needs the {chosen} package; install it "
            f"(pip install {chosen}) or choose another with --backend"
        )
    os.environ["KERAS_BACKEND"] = chosen
    return chosen


def default_backend() -> str:
    return "jax" if find_spec("jax") is not None else "tensorflow"
