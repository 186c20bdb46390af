"""Real studies on a real MNIST subset against a real SQLite MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TEMPLATES

MLP_SPACE = TEMPLATES / "mlp_space.py"


def _tune(run_cli, small_data: Path, *args: str, template: Path = MLP_SPACE):  # type: ignore[no-untyped-def]
    return run_cli(
        "tune", template, "--data", small_data, "--val-size", "500", "--epochs", "1", *args
    )


def _study_runs(tracker, study: str):  # type: ignore[no-untyped-def]
    from hypertune.record import find_studies, load_trials

    [parent] = find_studies(tracker, study)
    return parent, load_trials(tracker, parent.info.run_id)


def test_study_logs_parent_and_one_child_per_trial(run_cli, small_data, tracker) -> None:
    result = _tune(run_cli, small_data, "--max-evals", "6", "--study", "s1", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert "Best params (trial" in result.stdout

    parent, trials = _study_runs(tracker, "s1")
    tags = parent.data.tags
    assert tags["hypertune.template"].endswith("mlp_space.py")
    assert len(tags["hypertune.template_sha256"]) == 64
    assert tags["hypertune.algo"] == "tpe"
    assert tags["hypertune.seed"] == "7"
    assert "hypertune.version" in tags
    assert parent.info.status == "FINISHED"
    artifacts = {a.path for a in tracker.client.list_artifacts(parent.info.run_id)}
    assert {"space.json", "best_params.json", "trials.png", "params.png"} <= artifacts

    assert [t.number for t in trials] == [1, 2, 3, 4, 5, 6]
    children = [tracker.get_run(t.run_id) for t in trials]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        params = child.data.params
        assert params["activation"] in ("relu", "sigmoid")  # values, not indices
        assert params["optimizer"] in ("sgd", "adam", "rmsprop")
        layers = int(params["n_layers"])
        assert ("units_2" in params) == (layers >= 2)
        assert ("units_3" in params) == (layers == 3)
        learning_rates = [k for k in params if k.endswith(".learning_rate")]
        assert len(learning_rates) == 1 and learning_rates[0].lower().startswith(
            params["optimizer"]
        )
        history = tracker.client.get_metric_history(child.info.run_id, "val_loss")
        assert [m.step for m in history] == [1]
        assert child.data.metrics["value"] == pytest.approx(history[-1].value)
        assert child.data.metrics["epochs"] == 1

    best = min(trials, key=lambda t: t.objective)
    best_history = tracker.client.get_metric_history(parent.info.run_id, "best_value")
    steps = [m.step for m in best_history if m.step > 0]
    assert steps == sorted(steps) and steps[-1] == 6
    assert min(m.value for m in best_history) == pytest.approx(best.value)
    assert tags["hypertune.best_trial"] == str(best.number)

    shown = run_cli("best", "s1")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == best.params
    assert all(not isinstance(v, int) or k != "activation" for k, v in best.params.items())


def test_resume_continues_to_the_total_and_never_replays(run_cli, small_data, tracker) -> None:
    first = _tune(
        run_cli, small_data, "--max-evals", "3", "--study", "r", "--seed", "11", "--algo", "rand"
    )
    assert first.exit_code == 0, first.output
    _, before = _study_runs(tracker, "r")

    second = _tune(run_cli, small_data, "--max-evals", "5", "--study", "r", "--algo", "rand")
    assert second.exit_code == 0, second.output
    assert "5 trials (2 new" in second.stdout
    _, after = _study_runs(tracker, "r")
    assert [t.number for t in after] == [1, 2, 3, 4, 5]
    assert [t.run_id for t in after[:3]] == [t.run_id for t in before]
    dropouts = [t.params["dropout"] for t in after]
    assert len(set(dropouts)) == 5, "a resumed study proposed an earlier point again"

    straight = _tune(
        run_cli,
        small_data,
        "--max-evals",
        "5",
        "--study",
        "r-straight",
        "--seed",
        "11",
        "--algo",
        "rand",
    )
    assert straight.exit_code == 0, straight.output
    _, uninterrupted = _study_runs(tracker, "r-straight")
    assert [t.params for t in uninterrupted] == [t.params for t in after]


FLAKY = """
import keras
from keras import layers


def create_model():
    mode = {{choice(["fine", "raise", "nan"])}}
    if mode == "raise":
        raise ValueError("this configuration cannot be built")

    def loss(y_true, y_pred):
        scale = float("nan") if mode == "nan" else 1.0
        return keras.losses.categorical_crossentropy(y_true, y_pred) * scale

    model = keras.Sequential([keras.Input((784,)), layers.Dense({{choice([8, 16])}}),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model
"""


def test_failing_trials_are_recorded_and_the_study_goes_on(
    run_cli, small_data, tracker, tmp_path
) -> None:
    template = tmp_path / "flaky.py"
    template.write_text(FLAKY)
    result = _tune(
        run_cli,
        small_data,
        "--max-evals",
        "8",
        "--study",
        "flaky",
        "--seed",
        "3",
        "--algo",
        "rand",
        "--epochs",
        "2",
        template=template,
    )
    assert result.exit_code == 0, result.output
    _, trials = _study_runs(tracker, "flaky")
    assert len(trials) == 8
    by_mode = {
        mode: [t for t in trials if t.params["mode"] == mode] for mode in ("fine", "raise", "nan")
    }
    assert all(by_mode.values()), "the seed should draw every mode at least once"
    assert all(t.status == "FINISHED" for t in by_mode["fine"])
    assert all(t.status == "FAILED" for t in by_mode["raise"] + by_mode["nan"])
    assert all("cannot be built" in t.error for t in by_mode["raise"])
    assert all("nan" in t.error.lower() for t in by_mode["nan"])
    for trial in by_mode["fine"] + by_mode["nan"]:
        steps = [m.step for m in tracker.client.get_metric_history(trial.run_id, "loss")]
        assert steps == ([1, 2] if trial.ok else [1]), "a NaN loss stops after its epoch"
    shown = run_cli("best", "flaky")
    assert json.loads(shown.stdout)["mode"] == "fine"


def test_a_study_whose_every_trial_fails_exits_nonzero(run_cli, small_data, tmp_path) -> None:
    template = tmp_path / "broken.py"
    template.write_text(
        "def create_model():\n    width = {{choice([1, 2])}}\n    return undefined_name * width\n"
    )
    result = _tune(run_cli, small_data, "--max-evals", "3", "--study", "broken", template=template)
    assert result.exit_code == 1
    assert "every trial of study 'broken' failed" in result.stderr
    assert "NameError" in result.stderr and "undefined_name" in result.stderr


def test_max_failures_stops_the_study(run_cli, small_data, tmp_path, tracker) -> None:
    template = tmp_path / "broken.py"
    template.write_text("def create_model():\n    raise RuntimeError({{choice(['a', 'b'])}})\n")
    result = _tune(
        run_cli,
        small_data,
        "--max-evals",
        "10",
        "--max-failures",
        "2",
        "--study",
        "mf",
        template=template,
    )
    assert result.exit_code == 1
    _, trials = _study_runs(tracker, "mf")
    assert len(trials) == 3


def test_a_changed_template_is_refused_unless_forced(
    run_cli, small_data, tracker, tmp_path
) -> None:
    template = tmp_path / "t.py"
    template.write_text((TEMPLATES / "activation.py").read_text())
    assert (
        _tune(
            run_cli, small_data, "--max-evals", "1", "--study", "ch", template=template
        ).exit_code
        == 0
    )
    template.write_text(template.read_text() + "\n# edited\n")

    refused = _tune(run_cli, small_data, "--max-evals", "2", "--study", "ch", template=template)
    assert refused.exit_code == 2
    assert "another version of the template" in refused.stderr
    assert "--force" in refused.stderr
    _, trials = _study_runs(tracker, "ch")
    assert len(trials) == 1

    forced = _tune(
        run_cli, small_data, "--max-evals", "2", "--study", "ch", "--force", template=template
    )
    assert forced.exit_code == 0, forced.output
    _, trials = _study_runs(tracker, "ch")
    assert len(trials) == 2


def test_train_reuses_the_best_params(run_cli, small_data, tracker, tmp_path) -> None:
    assert (
        _tune(
            run_cli,
            small_data,
            "--max-evals",
            "3",
            "--study",
            "reuse",
            "--seed",
            "5",
            "--algo",
            "rand",
        ).exit_code
        == 0
    )
    _, trials = _study_runs(tracker, "reuse")
    best = min(trials, key=lambda t: t.objective)
    common = ("--data", small_data, "--val-size", "500", "--epochs", "1", "--no-log-model")

    from_study = run_cli("train", MLP_SPACE, "--from-study", "reuse", *common)
    assert from_study.exit_code == 0, from_study.output
    assert f"study reuse, trial {best.number}" in from_study.stdout
    assert "Test accuracy:" in from_study.stdout

    from_run = run_cli("train", MLP_SPACE, "--from-run", trials[0].run_id, *common)
    assert from_run.exit_code == 0, from_run.output
    assert json.dumps(trials[0].params) in from_run.stdout

    params_file = tmp_path / "params.json"
    assert run_cli("best", "reuse", "-o", params_file).exit_code == 0
    from_file = run_cli("train", MLP_SPACE, "--params", params_file, *common)
    assert from_file.exit_code == 0, from_file.output
    train_runs = tracker.search("tags.`hypertune.role` = 'train'")
    assert len(train_runs) == 3
    assert all(
        r.data.params["activation"] == best.params["activation"]
        for r in train_runs
        if r.data.tags.get("hypertune.params_from") != "run " + trials[0].run_id
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-evals", "0"), "--max-evals must be at least 1"),
        (("--max-evals", "-3"), "--max-evals must be at least 1"),
        (("--max-evals", "2", "--algo", "bayes"), "'bayes' is not one of"),
        (("--max-evals", "2", "--study", "no spaces"), "study name"),
        (("--max-evals", "2", "--timeout", "-1"), "--timeout"),
    ],
)
def test_bad_tune_arguments_exit_2(run_cli, small_data, args, message) -> None:
    result = _tune(run_cli, small_data, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_fixed_template_has_nothing_to_tune(run_cli, small_data) -> None:
    result = _tune(run_cli, small_data, "--max-evals", "2", template=TEMPLATES / "relu_adam.py")
    assert result.exit_code == 2
    assert "nothing to tune" in result.stderr


def test_best_of_an_unknown_study_is_a_clear_error(run_cli) -> None:
    result = run_cli("best", "missing")
    assert result.exit_code == 2
    assert "no study named 'missing'" in result.stderr
