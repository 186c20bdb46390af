"""What the benchmarks share: the data they read, the header they print, memory readings, and
worker processes that each start Keras afresh on the JAX backend.

Not a benchmark itself; ``bench/overhead.py``, ``bench/memory.py``, ``bench/peers.py`` and
``bench/compare_mnist.py`` import it (run them from the repository root).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

DATA_VARIABLE = "HYPERTUNE_DATA"
VALIDATION_IMAGES = 10_000


def source_path() -> Path:
    """The full MNIST .npz named by ``HYPERTUNE_DATA``; benchmarks never download."""
    named = os.environ.get(DATA_VARIABLE)
    if not named or not Path(named).is_file():
        sys.exit(
            f"Error: {DATA_VARIABLE} must name the MNIST .npz (got {named!r}); for example "
            f"{DATA_VARIABLE}=/work/shared/data/mnist.npz. Benchmarks never download data."
        )
    return Path(named).resolve()


def write_subset(folder: Path, train_images: int | None, val_images: int) -> tuple[str, int]:
    """An .npz whose split under hypertune's ``load_split`` is a subset of the full one.

    Training takes the first ``train_images`` of the 50,000 training images, validation the last
    ``val_images`` of MNIST's training set: the images hypertune validates on. Returns the path
    and the ``val_size`` to give ``DataRef``. With ``train_images=None`` and 10,000 validation
    images this is the full split, and the source file itself is returned.
    """
    source = source_path()
    if train_images is None and val_images == VALIDATION_IMAGES:
        return str(source), VALIDATION_IMAGES
    with np.load(source) as archive:
        arrays = {key: archive[key] for key in archive.files}
    total = len(arrays["x_train"])
    cut = total - VALIDATION_IMAGES
    kept = np.r_[0 : train_images or cut, total - val_images : total]
    arrays["x_train"], arrays["y_train"] = arrays["x_train"][kept], arrays["y_train"][kept]
    path = folder / f"mnist-{train_images or cut}-{val_images}.npz"
    np.savez(path, **arrays)
    return str(path), val_images


def header(note: str = "") -> str:
    """``# `python bench/x.py --quick` — 2026-05-01, 2 cores (x86_64), note``"""
    command = " ".join(["python", *sys.argv])
    machine = platform.processor() or platform.machine()
    return f"# `{command}` — {date.today()}, {os.cpu_count()} cores ({machine}){note}\n"


def memory_mib(field: str = "VmRSS", pid: int | str = "self") -> float:
    """A memory field of ``/proc/PID/status`` (VmRSS, VmHWM, ...) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(f"/proc/{pid}/status has no {field} line")


def worker_env() -> dict[str, str]:
    """The environment of a worker: JAX backend, TensorFlow's C++ notes off."""
    return {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_worker(script: str, *args: str, cwd: str | None = None) -> Any:
    """Run ``script --worker ...`` in a fresh process and return the JSON it prints last."""
    command = [sys.executable, script, *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env=worker_env(), cwd=cwd, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        sys.exit(f"Error: worker {' '.join(args)} exited with status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm_up(split: Any) -> None:
    """Fit a tiny model once, so the backend's one-time start-up is paid before any timing.

    Seeding comes first: ``keras.utils.set_random_seed`` imports TensorFlow when it is installed
    (to seed it too), seconds and hundreds of MiB that every seeded process pays once.
    """
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((split.input_dim,)), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(split.x_train[:512], split.y_train[:512], batch_size=128, epochs=1, verbose=0)
    keras.backend.clear_session()


def describe(params: dict[str, Any]) -> str:
    """A short label for an mlp_space configuration: ``512-256 relu adam bn b128``."""
    layers = int(params.get("n_layers", 1))
    units = "-".join(str(params[f"units_{i}"]) for i in range(1, layers + 1))
    norm = " bn" if params.get("batch_norm") else ""
    return f"{units} {params['activation']} {params['optimizer']}{norm} b{params['batch_size']}"
