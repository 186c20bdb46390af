"""Faults a long study must survive, and bad input that must be refused in one line.

Every fault is real: processes are killed with SIGKILL, a real ``mlflow server`` is stopped in
the middle of a study, artifacts go to a location that cannot be written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEMPLATES, free_port, start_mlflow_server, stop_mlflow_server
from tests.test_resume_kill import _wait_for

CHEAP = """
import time

from hyperopt import STATUS_OK


def data():
    return None, None, None, None


def create_model(x_train, y_train, x_test, y_test):
    x = {{uniform(-3, 3)}}
    kind = {{choice(["a", "b"])}}
    time.sleep(0.3)
    return {"loss": (x - 1) ** 2 + (0.5 if kind == "b" else 0.0), "status": STATUS_OK}
"""


def _spawn(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hypertune", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _trials(tracker, study: str):  # type: ignore[no-untyped-def]
    from hypertune.record import find_studies, load_trials

    studies = find_studies(tracker, study)
    return load_trials(tracker, studies[0].info.run_id) if studies else []


def _check_invariants(trials, total: int) -> None:  # type: ignore[no-untyped-def]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), f"a trial number repeats: {numbers}"
    assert not [t for t in trials if t.status == "RUNNING"]
    counted = [t for t in trials if t.counts]
    assert len(counted) == total
    assert len({json.dumps(t.params, sort_keys=True) for t in counted}) == total


def test_sigkill_between_trials_and_at_random_moments(
    run_cli, tracker, tracking_uri, experiment, tmp_path
) -> None:
    template = tmp_path / "cheap.py"
    template.write_text(CHEAP)
    args = [
        "tune",
        str(template),
        "--study",
        "k",
        "--max-evals",
        "12",
        "--seed",
        "3",
        "--algo",
        "rand",
        "--tracking-uri",
        tracking_uri,
        "--experiment",
        experiment,
    ]

    # between trials: right after a child run turns FINISHED
    process = _spawn(args, tmp_path)
    _wait_for(
        lambda: len([t for t in _trials(tracker, "k") if t.status == "FINISHED"]) >= 2,
        120,
        "two finished trials",
    )
    process.send_signal(signal.SIGKILL)
    process.wait()

    # at whatever moment 1.3 s after the restart falls on (start-up, logging, a trial)
    for delay in (1.3, 6.0):
        process = _spawn(args, tmp_path)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        trials = _trials(tracker, "k")
        numbers = [t.number for t in trials]
        assert len(numbers) == len(set(numbers))

    finished_before = {t.run_id: t.params for t in _trials(tracker, "k") if t.counts}
    resumed = run_cli(*args, tracked_args=False)
    assert resumed.exit_code == 0, resumed.output
    trials = _trials(tracker, "k")
    _check_invariants(trials, 12)
    kept = {t.run_id: t.params for t in trials if t.run_id in finished_before}
    assert kept == finished_before, "a finished trial changed or vanished"


def test_a_trial_that_runs_out_of_memory_fails_alone(run_cli, tracker, tmp_path) -> None:
    template = tmp_path / "oom.py"
    template.write_text(
        CHEAP.replace(
            "    time.sleep(0.3)\n",
            "    if kind == 'b':\n        raise MemoryError('cannot allocate 80 GiB')\n",
        )
    )
    result = run_cli(
        "tune", template, "--study", "oom", "--max-evals", "8", "--seed", "1", "--algo", "rand"
    )
    assert result.exit_code == 0, result.output
    trials = _trials(tracker, "oom")
    failed = [t for t in trials if t.status == "FAILED"]
    assert failed and all(t.params["kind"] == "b" for t in failed)
    assert all(t.error.startswith("out of memory") for t in failed)
    assert all(t.status == "FINISHED" for t in trials if t.params["kind"] == "a")


def test_unwritable_artifacts_give_a_clear_error_and_no_trial(
    run_cli, tracker, tracking_uri, tmp_path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    tracker.client.create_experiment(
        tracker.experiment_name, artifact_location=str(blocker / "artifacts")
    )
    template = tmp_path / "cheap.py"
    template.write_text(CHEAP)
    result = run_cli("tune", template, "--study", "art", "--max-evals", "3")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot write artifacts to {blocker}")
    assert "writable" in line
    assert _trials(tracker, "art") == []


@pytest.fixture
def server_process(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start (and restart) a real mlflow server on one port over one SQLite file."""
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        processes.append(start_mlflow_server(tmp_path, port))
        return processes[-1]

    yield f"http://127.0.0.1:{port}", start, stop_mlflow_server
    for process in processes:
        stop_mlflow_server(process)


def test_a_server_that_goes_away_stops_the_study_with_what_was_recorded(
    server_process, tmp_path, experiment
) -> None:
    from hypertune.tracking import Tracker

    uri, start, stop = server_process
    server = start()
    template = tmp_path / "cheap.py"
    template.write_text(CHEAP.replace("time.sleep(0.3)", "time.sleep(1.0)"))
    args = [
        "tune",
        str(template),
        "--study",
        "gone",
        "--max-evals",
        "10",
        "--seed",
        "5",
        "--algo",
        "rand",
        "--tracking-uri",
        uri,
        "--experiment",
        experiment,
    ]
    quick_retries = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    study = _spawn(args, tmp_path, quick_retries)
    tracker = Tracker(uri, experiment)
    _wait_for(
        lambda: len([t for t in _trials(tracker, "gone") if t.counts]) >= 2,
        120,
        "two recorded trials",
    )
    stop(server)
    _, stderr = study.communicate(timeout=300)
    assert study.returncode == 1
    assert "could not be recorded" in stderr
    assert "Recorded: the" in stderr and "Rerun the same command to resume" in stderr

    start()
    resumed = _spawn(args, tmp_path, quick_retries)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    _check_invariants(_trials(tracker, "gone"), 10)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ('["activation"]', "holds a JSON list; write an object"),
        ('{"activation": "relu", "units": 3}', "unknown hyperparameter 'units'"),
        ("{}", "missing a value for activation"),
        ('{"activation": "tanh"}', "activation = 'tanh' is not one of its options"),
        ('{"activation": 1}', "activation = 1 is not one of its options"),
    ],
)
def test_bad_params_files_are_refused_in_one_line(
    run_cli, small_data, tracker, tmp_path, content, message
) -> None:
    params = tmp_path / "params.json"
    params.write_text(content)
    result = run_cli(
        "train",
        TEMPLATES / "activation.py",
        "--params",
        params,
        "--data",
        small_data,
        "--val-size",
        "500",
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {params}")
    assert message in line
    assert tracker.experiment_id(create=False) is None or not tracker.search("")


def test_out_of_range_and_wrong_type_values_name_the_range(run_cli, tmp_path) -> None:
    params = tmp_path / "params.json"
    base = {
        "batch_size": 64,
        "n_layers": 1,
        "activation": "relu",
        "initializer": "he_normal",
        "batch_norm": False,
        "units_1": 128,
        "optimizer": "adam",
        "Adam_1.learning_rate": 0.001,
    }
    for dropout, message in (
        (0.9, "lies outside uniform(0, 0.5)"),
        ("half", "must be a number from uniform(0, 0.5)"),
    ):
        params.write_text(json.dumps({**base, "dropout": dropout}))
        result = run_cli("train", TEMPLATES / "mlp_space.py", "--params", params)
        assert result.exit_code == 2
        assert message in result.stderr


def test_from_study_of_an_unknown_study(run_cli, small_data) -> None:
    result = run_cli(
        "train",
        TEMPLATES / "activation.py",
        "--from-study",
        "nope",
        "--data",
        small_data,
        "--val-size",
        "500",
    )
    assert result.exit_code == 2
    assert "no study named 'nope'" in result.stderr


def test_ui_serves_on_loopback_and_warns_about_other_hosts(tmp_path, tracking_uri) -> None:
    import requests

    port = free_port()
    process = _spawn(["ui", "--port", str(port), "--tracking-uri", tracking_uri], tmp_path)
    try:
        _wait_for(
            lambda: _answers(requests, f"http://127.0.0.1:{port}/health"), 120, "the UI to answer"
        )
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    assert f"MLflow UI for {tracking_uri} at http://127.0.0.1:{port}" in stdout
    assert "anyone who can reach this machine" not in stderr

    exposed = _spawn(
        ["ui", "--port", str(free_port()), "--host", "0.0.0.0", "--tracking-uri", tracking_uri],
        tmp_path,
    )
    time.sleep(3)
    exposed.terminate()
    _, stderr = exposed.communicate(timeout=60)
    assert "serving on 0.0.0.0: anyone who can reach this machine" in stderr


def _answers(requests, url: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(requests.get(url, timeout=2).ok)
    except requests.RequestException:
        return False


def test_sigterm_ends_the_trial_and_the_study_killed(
    tracker, tracking_uri, experiment, tmp_path
) -> None:
    from hypertune.record import find_studies

    template = tmp_path / "slow.py"
    template.write_text(CHEAP.replace("time.sleep(0.3)", "time.sleep(2.0)"))
    process = _spawn(
        [
            "tune",
            str(template),
            "--study",
            "term",
            "--max-evals",
            "20",
            "--tracking-uri",
            tracking_uri,
            "--experiment",
            experiment,
        ],
        tmp_path,
    )
    _wait_for(
        lambda: any(t.status == "RUNNING" for t in _trials(tracker, "term") if t.number >= 2),
        120,
        "a second trial running",
    )
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Interrupted." in stderr
    trials = _trials(tracker, "term")
    assert [t.status for t in trials][-1] == "KILLED"
    assert all(t.status == "FINISHED" for t in trials[:-1])
    [parent] = find_studies(tracker, "term")
    assert parent.info.status == "KILLED"


def test_a_template_bug_stops_the_study_at_the_first_trial(
    run_cli, small_data, tracker, tmp_path
) -> None:
    template = tmp_path / "uncompiled.py"
    template.write_text(
        "import keras\n\n\ndef create_model():\n"
        "    return keras.Sequential([keras.Input((784,)),\n"
        "                             keras.layers.Dense({{choice([10, 20])}})])\n"
    )
    result = run_cli(
        "tune",
        template,
        "--study",
        "bug",
        "--max-evals",
        "5",
        "--data",
        small_data,
        "--val-size",
        "500",
    )
    assert result.exit_code == 2
    assert "trial 1:" in result.stderr and "not compiled" in result.stderr
    assert [t.status for t in _trials(tracker, "bug")] == ["FAILED"]
