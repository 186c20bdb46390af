"""hypertune's default backend (JAX) trains a template to the same accuracy as Keras's default
(TensorFlow): the speed-up changes nothing the template asks for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEMPLATES


def _test_accuracy(backend: str, data: Path, uri: str, folder: Path) -> float:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypertune",
            "--backend",
            backend,
            "train",
            str(TEMPLATES / "relu_dropout.py"),
            "--epochs",
            "3",
            "--seed",
            "0",
            "--data",
            str(data),
            "--val-size",
            "1000",
            "--no-log-model",
            "--tracking-uri",
            uri,
            "--experiment",
            f"backend-{backend}",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": ""},
    )
    assert done.returncode == 0, done.stderr
    match = re.search(r"^Test accuracy: (\d\.\d+)", done.stdout, re.MULTILINE)
    assert match, done.stdout
    return float(match[1])


def test_jax_and_tensorflow_reach_the_same_accuracy(
    mnist_path: Path, tracking_uri: str, tmp_path: Path
) -> None:
    from tests.conftest import write_subset

    data = write_subset(mnist_path, tmp_path / "six-thousand.npz", 6000, 2000)
    jax = _test_accuracy("jax", data, tracking_uri, tmp_path)
    tensorflow = _test_accuracy("tensorflow", data, tracking_uri, tmp_path)
    assert jax > 0.9 and tensorflow > 0.9
    # 2,000 test images: one standard error of an accuracy near 0.93 is about 0.006
    assert jax == pytest.approx(tensorflow, abs=0.02)
