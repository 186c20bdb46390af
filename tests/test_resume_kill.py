"""A study killed with SIGKILL in the middle of a trial resumes with nothing lost or repeated.

The study runs in a subprocess, as a user runs it; the test watches the real MLflow store and
kills the process while a trial's child run is RUNNING. While it runs, a second process asking
for the same study is refused.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import TEMPLATES


def _wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_trial_then_resume(
    run_cli, tracker, tracking_uri, experiment, small_data, tmp_path
) -> None:
    from hypertune.record import find_studies, load_trials

    args = [
        "tune",
        str(TEMPLATES / "activation.py"),
        "--study",
        "killed",
        "--max-evals",
        "6",
        "--epochs",
        "6",
        "--data",
        str(small_data),
        "--val-size",
        "500",
        "--seed",
        "1",
        "--algo",
        "rand",
        "--tracking-uri",
        tracking_uri,
        "--experiment",
        experiment,
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "hypertune", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:

        def trials_now():  # type: ignore[no-untyped-def]
            studies = find_studies(tracker, "killed")
            return load_trials(tracker, studies[0].info.run_id) if studies else []

        def finished(trials):  # type: ignore[no-untyped-def]
            return [t for t in trials if t.status == "FINISHED"]

        # a second process refuses while the first holds the study
        _wait_for(lambda: finished(trials_now()), 240, "a first finished trial")
        busy = run_cli(*args, tracked_args=False)
        assert busy.exit_code == 1
        assert "is being run by pid" in busy.stderr

        def mid_trial():  # type: ignore[no-untyped-def]
            trials = trials_now()
            running = [t for t in trials if t.status == "RUNNING"]
            if len(finished(trials)) >= 2 and running:
                # the running trial must have trained at least one epoch: mid-trial
                return tracker.client.get_metric_history(running[0].run_id, "loss")
            return None

        _wait_for(mid_trial, 240, "a trial in the middle of training")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    before = trials_now()
    finished_before = {t.number: t for t in finished(before)}
    [interrupted] = [t for t in before if t.status == "RUNNING"]

    resumed = run_cli(*args, tracked_args=False)
    assert resumed.exit_code == 0, resumed.output
    assert f"trial {interrupted.number} was interrupted earlier" in resumed.stderr

    [parent] = find_studies(tracker, "killed")
    after = load_trials(tracker, parent.info.run_id)
    numbers = [t.number for t in after]
    assert len(numbers) == len(set(numbers)), "a trial number was recorded twice"
    statuses = {t.number: t.status for t in after}
    assert statuses[interrupted.number] == "KILLED"
    assert sum(1 for t in after if t.status == "FINISHED") == 6
    for number, trial in finished_before.items():
        kept = next(t for t in after if t.number == number)
        assert kept.run_id == trial.run_id and kept.params == trial.params
    assert parent.info.status == "FINISHED"
