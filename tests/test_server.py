"""The same flow against a real ``mlflow server`` started on 127.0.0.1 by the test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEMPLATES, free_port, start_mlflow_server, stop_mlflow_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = start_mlflow_server(tmp_path_factory.mktemp("server"), port)
    yield f"http://127.0.0.1:{port}"
    stop_mlflow_server(process)


def test_study_and_training_against_a_tracking_server(
    server: str, run_cli, small_data: Path, experiment: str, monkeypatch
) -> None:
    from hypertune.record import find_studies, load_trials
    from hypertune.tracking import Tracker

    common = ("--data", small_data, "--val-size", "500", "--epochs", "1", "--tracking-uri", server)
    tuned = run_cli(
        "tune",
        TEMPLATES / "activation.py",
        "--max-evals",
        "3",
        "--study",
        "srv",
        "--algo",
        "rand",
        "--seed",
        "2",
        *common,
    )
    assert tuned.exit_code == 0, tuned.output
    assert server in tuned.stdout

    tracker = Tracker(server, experiment)
    [parent] = find_studies(tracker, "srv")
    trials = load_trials(tracker, parent.info.run_id)
    assert [t.status for t in trials] == ["FINISHED"] * 3
    assert all(t.params["activation"] in ("sigmoid", "relu") for t in trials)
    artifacts = {a.path for a in tracker.client.list_artifacts(parent.info.run_id)}
    assert {"space.json", "trials.png", "best_params.json"} <= artifacts

    best = run_cli("best", "srv", "--tracking-uri", server)
    assert best.exit_code == 0, best.output
    assert json.loads(best.stdout) == min(trials, key=lambda t: t.objective).params

    trained = run_cli("train", TEMPLATES / "activation.py", "--from-study", "srv", *common)
    assert trained.exit_code == 0, trained.output
    [run] = tracker.search("tags.`hypertune.role` = 'train'")
    assert "test_accuracy" in run.data.metrics
    import mlflow.keras

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    model = mlflow.keras.load_model(f"runs:/{run.info.run_id}/model")
    assert model.output_shape == (None, 10)


def test_an_unreachable_server_fails_before_training(run_cli, small_data: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_cli(
        "tune",
        TEMPLATES / "activation.py",
        "--max-evals",
        "2",
        "--data",
        small_data,
        "--val-size",
        "500",
        "--tracking-uri",
        url,
    )
    assert result.exit_code == 1
    assert f"cannot reach the MLflow tracking server at {url}" in result.stderr
    assert time.monotonic() - started < 30
