"""Seconds per epoch of a 784-512-512-10 ReLU MLP (Adam, batch 128) under each setting, beside
the floor that numpy's float32 matmul speed sets, measured in the same run.

    python bench/epoch.py            # full MNIST (50,000 train + 10,000 val), ~4 minutes
    python bench/epoch.py --quick    # a quarter of the data, ~2 minutes

Each setting trains in its own process (the Keras backend is fixed per process) for a few
epochs, and the settings take turns for ``--rounds`` rounds so that drift of the machine spreads
over all of them; the table reports the median first epoch (which pays for tracing) and the
median of the later ones. The floor is the epoch's floating-point work (3x the forward pass for
each training image, 1x for each validation image) divided by numpy's matmul rate, the median of
readings before and after each round. Data comes from ``HYPERTUNE_DATA``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

#: name: (backend, jit_compile, steps_per_execution, validation batch, description)
SETTINGS = {
    "tensorflow": ("tensorflow", "auto", 1, None, "Keras defaults, TensorFlow backend"),
    "tensorflow-xla": ("tensorflow", True, 1, None, "TensorFlow backend, jit_compile=True (XLA)"),
    "jax": ("jax", "auto", 1, None, "Keras defaults, JAX backend (XLA)"),
    "jax-nan": ("jax", "auto", 1, None, "JAX backend, TerminateOnNaN callback"),
    "jax-steps": ("jax", "auto", 8, 1024, "JAX, steps_per_execution=8, validation batch 1024"),
    "hypertune": (None, None, None, None, "hypertune's default, through hypertune.fitting.train"),
}
LAYERS = (784, 512, 512, 10)

TEMPLATE = """
import keras
from keras import layers


def create_model():
    model = keras.Sequential([keras.Input((784,)), layers.Dense(512, activation="relu"),
                              layers.Dense(512, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model
"""


def forward_flops() -> int:
    return sum(2 * a * b for a, b in itertools.pairwise(LAYERS))


def matmul_rate(size: int = 2048, repeats: int = 7) -> float:
    """numpy's float32 matmul speed in FLOP/s (median of ``repeats``)."""
    import numpy as np

    a = np.random.rand(size, size).astype(np.float32)
    b = np.random.rand(size, size).astype(np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times)


def worker(setting: str, epochs: int, fraction: float) -> dict[str, object]:
    """Train in this process and report per-epoch seconds and the final val accuracy."""
    backend, jit, steps, val_batch, _ = SETTINGS[setting]
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from hypertune.data import DataRef, Split, load_split

    split = load_split(DataRef.resolve(None))
    if fraction < 1:
        n, v = int(len(split.x_train) * fraction), int(len(split.x_val) * fraction)
        split = Split(
            split.x_train[:n],
            split.y_train[:n],
            split.x_val[:v],
            split.y_val[:v],
            split.x_test,
            split.y_test,
            split.source,
        )
    if setting == "hypertune":
        return _through_hypertune(split, epochs)

    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((784,)),
            layers.Dense(512, activation="relu"),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
        steps_per_execution=steps,
    )
    seconds: list[float] = []

    class Clock(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            seconds.append(time.perf_counter() - self.started)

    history = model.fit(
        split.x_train,
        split.y_train,
        batch_size=128,
        epochs=epochs,
        validation_data=(split.x_val, split.y_val),
        validation_batch_size=val_batch,
        verbose=0,
        callbacks=[Clock(), *([keras.callbacks.TerminateOnNaN()] if setting == "jax-nan" else [])],
    )
    return {
        "seconds": seconds,
        "val_accuracy": history.history["val_accuracy"][-1],
        "backend": keras.backend.backend(),
        "train": len(split.x_train),
        "val": len(split.x_val),
    }


def _through_hypertune(split: object, epochs: int) -> dict[str, object]:
    import tempfile

    from hypertune import fitting
    from hypertune.settings import FitSettings
    from hypertune.template import compile_source

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mlp.py"
        path.write_text(TEMPLATE)
        template = compile_source(TEMPLATE, str(path))
        outcome = fitting.train(template, {}, split, FitSettings(epochs=epochs, seed=0))  # type: ignore[arg-type]
    return {
        "seconds": [e["epoch_seconds"] for e in outcome.history],
        "val_accuracy": outcome.history[-1]["val_accuracy"],
        "backend": fitting.keras.backend.backend(),
        "train": len(split.x_train),
        "val": len(split.x_val),
    }  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the data, 3 epochs")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument(
        "--rounds", type=int, default=2, help="times each setting runs, taking turns"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fraction = 0.25 if args.quick else 1.0
    epochs = args.epochs or (3 if args.quick else 4)
    if args.worker:
        print(json.dumps(worker(args.worker, epochs, fraction)))
        return

    rates = [matmul_rate()]
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for setting in args.settings.split(","):
            command = [sys.executable, __file__, "--worker", setting, "--epochs", str(epochs)]
            if args.quick:
                command.append("--quick")
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs.setdefault(setting, []).append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {setting}: {runs[setting][-1]['seconds']}", file=sys.stderr)
        rates.append(matmul_rate())
    rate = statistics.median(rates)

    print(
        f"# bench/epoch.py{' --quick' if args.quick else ''} — {date.today()}, "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), numpy "
        f"matmul {rate / 1e9:.0f} GFLOP/s\n"
    )
    print(
        "| setting | backend | first epoch s | later epochs s (median) | floor s | ratio to "
        "floor | val acc |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for setting, results in runs.items():
        result = results[0]
        first = statistics.median(r["seconds"][0] for r in results)
        later = statistics.median(s for r in results for s in r["seconds"][1:] or r["seconds"])
        flops = 3 * forward_flops() * result["train"] + forward_flops() * result["val"]
        floor = flops / rate
        print(
            f"| {SETTINGS[setting][-1]} | {result['backend']} | {first:.2f} | "
            f"{later:.2f} | {floor:.2f} | {later / floor:.2f} | "
            f"{result['val_accuracy']:.4f} |"
        )


if __name__ == "__main__":
    main()
