"""Shared fixtures: real MNIST subsets, one real SQLite MLflow store per session, the CLI.

The tests need the MNIST npz named by ``HYPERTUNE_DATA`` (the README's test command sets it);
nothing downloads. Each test gets its own MLflow experiment in the session's store, so tests do
not see each other's runs while the store's one-off set-up (a few seconds) is paid once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

# the tests are offline: no usage reports from MLflow
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The full MNIST npz, from ``HYPERTUNE_DATA``."""
    value = os.environ.get("HYPERTUNE_DATA")
    if not value:
        pytest.fail("set HYPERTUNE_DATA to the MNIST npz (e.g. ../shared/data/mnist.npz)")
    path = Path(value).resolve()
    if not path.is_file():
        pytest.fail(f"HYPERTUNE_DATA={value} does not exist")
    return path


def write_subset(mnist: Path, target: Path, n_train: int, n_test: int) -> Path:
    """A stratified-enough slice of real MNIST in Keras's npz layout."""
    with np.load(mnist) as full:
        np.savez(
            target,
            x_train=full["x_train"][:n_train],
            y_train=full["y_train"][:n_train],
            x_test=full["x_test"][:n_test],
            y_test=full["y_test"][:n_test],
        )
    return target


@pytest.fixture(scope="session")
def small_data(mnist_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 training images (use ``--val-size 500``) and 500 test images of real MNIST."""
    return write_subset(mnist_path, tmp_path_factory.mktemp("data") / "small.npz", 2000, 500)


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real SQLite tracking store, created once for the session."""
    from hypertune.tracking import Tracker

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    # MLflow fixes the store's artifact root (./mlruns) when it first opens the store
    previous = Path.cwd()
    os.chdir(folder)
    try:
        Tracker(uri, "warm-up").experiment_id()
    finally:
        os.chdir(previous)
    return uri


@pytest.fixture
def experiment() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def tracker(tracking_uri: str, experiment: str):  # type: ignore[no-untyped-def]
    from hypertune.tracking import Tracker

    return Tracker(tracking_uri, experiment)


@pytest.fixture
def run_cli(
    tracking_uri: str, experiment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``hypertune ARGS`` in-process as a user would, against the test's experiment.

    ``--experiment`` and ``--tracking-uri`` are passed for every command that takes them; the
    working directory is the test's temporary directory.
    """
    from hypertune.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    tracked = {"train", "zoo", "tune", "best", "studies", "compare"}

    def run(*args: str, tracked_args: bool = True) -> Result:
        words = [str(a) for a in args]
        if tracked_args and words and words[0] in tracked:
            words += ["--experiment", experiment]
        return CliRunner().invoke(cli, words, catch_exceptions=False)

    return run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_mlflow_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """A real ``mlflow server`` on 127.0.0.1 over a SQLite file in ``folder``, once it answers.

    It runs in its own process group, so :func:`stop_mlflow_server` stops its workers too.
    """
    import requests

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--workers",
            "1",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                return process
        except requests.RequestException:
            time.sleep(0.5)
    stop_mlflow_server(process)
    raise RuntimeError("mlflow server did not start")


def stop_mlflow_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
