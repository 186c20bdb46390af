"""``hypertune train`` and ``hypertune zoo`` on 2,000 real MNIST images, logged to real MLflow.

One relu_adam run (two epochs, model logged and registered) is shared by the tests that read
what it printed and logged; the other tests train their own, mostly the small softmax model.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from hypertune.data import DataRef, load_split
from hypertune.tracking import Tracker

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
EPOCH_LINE = re.compile(
    r"Epoch (\d+)/(\d+)  loss (\S+)  acc (\S+)(?:  val_loss (\S+)  val_acc (\S+))?  (\S+)s"
)

#: Dense weights plus biases for 784-512-128-10.
MLP_PARAMETERS = (784 * 512 + 512) + (512 * 128 + 128) + (128 * 10 + 10)
#: Dense layers without bias before BatchNormalization (gamma, beta, moving mean and variance).
BATCHNORM_PARAMETERS = (784 * 512 + 4 * 512) + (512 * 128 + 4 * 128) + (128 * 10 + 10)
ZOO_HEADERS = ("model", "template", "parameters", "epochs", "best val acc", "test acc", "seconds")
ZOO_PARAMETERS = {
    "softmax": 784 * 10 + 10,
    "sigmoid_sgd": MLP_PARAMETERS,
    "sigmoid_adam": MLP_PARAMETERS,
    "relu_sgd": MLP_PARAMETERS,
    "relu_adam": MLP_PARAMETERS,
    "relu_batchnorm": BATCHNORM_PARAMETERS,
    "relu_dropout": MLP_PARAMETERS,
}

HYPERAS_TEMPLATE = '''\
"""A Hyperas-style template: data() loads the data, the model function fits the model itself."""

import numpy as np
from hyperas.distributions import choice  # hyperas is not installed: hypertune drops this
from hyperopt import STATUS_OK
import keras
from keras import layers


def data():
    with np.load({path!r}) as arrays:
        x = arrays["x_train"].reshape(-1, 784).astype("float32") / 255
        y = keras.utils.to_categorical(arrays["y_train"], 10)
    return x[:1500], y[:1500], x[1500:], y[1500:]


def create_model(x_train, y_train, x_test, y_test):
    model = keras.Sequential(
        [keras.Input(shape=(784,)), layers.Dense(32, activation="relu"), layers.Dense(10)]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x_train, y_train, batch_size=128, epochs=2, verbose=2, validation_data=(x_test, y_test)
    )
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {{"loss": -accuracy, "status": STATUS_OK, "model": model}}
'''

UNCOMPILED_TEMPLATE = """\
import keras


def create_model():
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10)])
"""


def run_id_of(result: Result) -> str:
    found = re.search(r"MLflow run ([0-9a-f]{32}) ", result.stdout)
    assert found, result.output
    return found.group(1)


def history(tracker: Tracker, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) of each logged value of ``key``, in step order."""
    metrics = tracker.client.get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in metrics)


def train_args(template: Path | str, data: Path, *more: object) -> list[object]:
    return ["train", template, "--data", data, "--val-size", 500, *more]


# -- one run, read by several tests -----------------------------------------------------------


@dataclass
class Trained:
    result: Result
    tracker: Tracker
    run_id: str
    name: str


@pytest.fixture(scope="module")
def trained(
    small_data: Path, tracking_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    """``hypertune train templates/relu_adam.py --epochs 2 --seed 1 --register NAME``."""
    from hypertune.cli import cli

    name = f"train-{uuid.uuid4().hex[:10]}"
    args = train_args(TEMPLATES / "relu_adam.py", small_data, "--epochs", 2, "--seed", 1)
    args += ["--register", name, "--tracking-uri", tracking_uri, "--experiment", name]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("train"))
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return Trained(result, Tracker(tracking_uri, name), run_id_of(result), name)


def test_train_prints_one_line_per_epoch_and_the_test_accuracy(trained: Trained) -> None:
    lines = trained.result.stdout.splitlines()
    logged = {key: dict(history(trained.tracker, trained.run_id, key)) for key in EPOCH_METRICS}

    for step, line in enumerate(lines[:2], start=1):
        match = EPOCH_LINE.fullmatch(line)
        assert match, line
        assert (match[1], match[2]) == (str(step), "2")
        printed = dict(zip(EPOCH_METRICS, map(float, match.groups()[2:]), strict=True))
        for key in EPOCH_METRICS:
            rounding = 0.05 if key == "epoch_seconds" else 5e-5
            assert printed[key] == pytest.approx(logged[key][step], abs=rounding), key
    test_accuracy = trained.tracker.get_run(trained.run_id).data.metrics["test_accuracy"]
    assert re.fullmatch(rf"Test accuracy: {test_accuracy:.4f}  \(test loss \S+, \S+s\)", lines[2])
    assert lines[3].startswith(f"MLflow run {trained.run_id} in experiment '{trained.name}'")
    assert lines[4] == f"Registered model '{trained.name}'"
    assert len(lines) == 5


def test_train_logs_exactly_one_finished_run_tagged_with_the_template(trained: Trained) -> None:
    [run] = trained.tracker.search("")
    source = (TEMPLATES / "relu_adam.py").read_bytes()

    assert run.info.run_id == trained.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["hypertune.template"] == str(TEMPLATES / "relu_adam.py")
    assert run.data.tags["hypertune.template_sha256"] == hashlib.sha256(source).hexdigest()
    assert run.data.tags["hypertune.role"] == "train"


def test_train_logs_the_fit_and_what_the_template_chose(
    trained: Trained, small_data: Path
) -> None:
    params = trained.tracker.get_run(trained.run_id).data.params

    assert params["fit.epochs"] == "2"
    assert params["fit.batch_size"] == "128"
    assert params["fit.seed"] == "1"
    assert params["model.optimizer"] == "Adam"
    assert float(params["model.learning_rate"]) == pytest.approx(1e-3)
    assert params["model.learning_rate_schedule"].startswith("ExponentialDecay(decay_steps=")
    assert params["model.initializer"].startswith("GlorotUniform")
    assert params["model.parameters"] == str(MLP_PARAMETERS)
    assert params["data"] == str(small_data)
    assert (params["data.train_size"], params["data.val_size"]) == ("1500", "500")


def test_train_logs_each_epoch_at_its_one_based_step(trained: Trained) -> None:
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        steps = [step for step, _ in history(trained.tracker, trained.run_id, key)]
        assert steps == [1, 2], key
    epoch_seconds = history(trained.tracker, trained.run_id, "epoch_seconds")
    assert [step for step, _ in epoch_seconds] == [1, 2]
    losses = [value for _, value in history(trained.tracker, trained.run_id, "loss")]
    assert losses[1] < losses[0]


def test_run_seconds_is_the_total_not_the_last_epoch(trained: Trained) -> None:
    epoch_seconds = [
        v for step, v in history(trained.tracker, trained.run_id, "epoch_seconds") if step
    ]
    metrics = trained.tracker.get_run(trained.run_id).data.metrics

    assert metrics["seconds"] >= sum(epoch_seconds)


def test_train_logs_test_metrics_and_a_learning_curve(trained: Trained, tmp_path: Path) -> None:
    client = trained.tracker.client
    metrics = client.get_run(trained.run_id).data.metrics
    val_accuracy = [value for _, value in history(trained.tracker, trained.run_id, "val_accuracy")]

    assert 0.5 < metrics["test_accuracy"] <= 1.0
    assert metrics["test_loss"] > 0
    assert metrics["best_val_accuracy"] == max(val_accuracy)
    assert metrics["epochs"] == 2
    assert "learning_curve.png" in [a.path for a in client.list_artifacts(trained.run_id)]
    local = client.download_artifacts(trained.run_id, "learning_curve.png", str(tmp_path))
    assert Path(local).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_logged_keras_model_loads_and_predicts_ten_classes(
    trained: Trained, small_data: Path
) -> None:
    import mlflow

    uri = f"runs:/{trained.run_id}/model"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(trained.tracker.uri)
    try:
        flavors = mlflow.models.get_model_info(uri).flavors
        model = mlflow.keras.load_model(uri)
    finally:
        mlflow.set_tracking_uri(previous)
    split = load_split(DataRef.resolve(str(small_data), 500))
    probabilities = model.predict(split.x_test, verbose=0)
    metrics = trained.tracker.get_run(trained.run_id).data.metrics

    assert "keras" in flavors
    assert probabilities.shape == (500, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean(probabilities.argmax(axis=1) == split.y_test.argmax(axis=1))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_register_creates_a_model_version_of_the_run(trained: Trained) -> None:
    versions = trained.tracker.client.search_model_versions(f"name='{trained.name}'")

    assert [(int(v.version), v.run_id) for v in versions] == [(1, trained.run_id)]


# -- options ----------------------------------------------------------------------------------


def test_seed_makes_runs_repeat_their_losses(small_data: Path, run_cli, tracker) -> None:
    def losses(seed: int) -> list[tuple[int, float]]:
        result = run_cli(
            *train_args(TEMPLATES / "softmax.py", small_data, "--epochs", 2, "--seed", seed),
            "--no-log-model",
        )
        assert result.exit_code == 0, result.output
        run_id = run_id_of(result)
        return history(tracker, run_id, "loss") + history(tracker, run_id, "val_loss")

    first, again, other = losses(7), losses(7), losses(8)

    assert first == again
    assert [step for step, _ in first] == [1, 2, 1, 2]
    assert other != first


def test_include_val_trains_on_training_and_validation_data(
    small_data: Path, run_cli, tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERTUNE_DATA", str(small_data))

    result = run_cli(
        "train", TEMPLATES / "softmax.py", "--val-size", 500, "--epochs", 1, "--include-val",
        "--no-log-model",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert EPOCH_LINE.fullmatch(result.stdout.splitlines()[0])
    assert "val_" not in result.stdout
    run = tracker.get_run(run_id_of(result))
    assert run.data.params["fit.include_val"] == "True"
    assert run.data.params["data"] == str(small_data)
    assert (run.data.params["data.train_size"], run.data.params["data.val_size"]) == ("2000", "0")
    assert {"loss", "accuracy", "test_accuracy"} <= set(run.data.metrics)
    assert not {"val_loss", "val_accuracy", "best_val_accuracy"} & set(run.data.metrics)


# -- templates that cannot be trained as they are ---------------------------------------------


def test_template_with_markers_needs_params(small_data: Path, run_cli, tracker) -> None:
    result = run_cli(*train_args(TEMPLATES / "activation.py", small_data, "--epochs", 1))

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    assert "activation.py has 1 hyperparameters (activation)" in line
    assert "--params FILE" in line
    assert "hypertune tune" in line
    assert tracker.search("") == []


def test_uncompiled_model_is_refused(small_data: Path, run_cli, tracker, tmp_path: Path) -> None:
    template = tmp_path / "uncompiled.py"
    template.write_text(UNCOMPILED_TEMPLATE)

    result = run_cli(*train_args(template, small_data, "--epochs", 1))

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    assert "create_model() returned a model that is not compiled" in line
    assert "model.compile(" in line
    assert "Traceback" not in result.output
    [run] = tracker.search("")
    assert run.info.status == "FAILED"
    assert "not compiled" in run.data.tags["hypertune.error"]


# -- Hyperas-style templates ------------------------------------------------------------------


def test_hyperas_template_trains_and_its_epochs_are_logged(
    small_data: Path, run_cli, tracker, tmp_path: Path
) -> None:
    template = tmp_path / "hyperas_mlp.py"
    template.write_text(HYPERAS_TEMPLATE.format(path=str(small_data)))

    result = run_cli(*train_args(template, small_data, "--epochs", 2, "--no-log-model"))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [EPOCH_LINE.match(line)[1] for line in lines[:2]] == ["1", "2"]
    assert lines[2].startswith("Test accuracy: ")
    assert len(lines) == 4, "Keras's own progress lines should be off"
    run_id = run_id_of(result)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [step for step, _ in history(tracker, run_id, key)] == [1, 2], key
    run = tracker.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.parameters"] == str(784 * 32 + 32 + 32 * 10 + 10)
    assert 0.1 < run.data.metrics["test_accuracy"] <= 1.0


def test_epoch_lines_count_the_epochs_a_hyperas_template_fixes(
    small_data: Path, run_cli, tmp_path: Path
) -> None:
    template = tmp_path / "hyperas_mlp.py"
    template.write_text(HYPERAS_TEMPLATE.format(path=str(small_data)))

    result = run_cli(*train_args(template, small_data, "--no-log-model"))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Epoch 1/2  ")


# -- zoo --------------------------------------------------------------------------------------


def test_zoo_trains_the_seven_models_into_one_table(small_data: Path, run_cli, tracker) -> None:
    result = run_cli(
        "zoo", "--epochs", 1, "--seed", 0, "--no-log-model", "--data", small_data,
        "--val-size", 500,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    header, _, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    assert tuple(header) == ZOO_HEADERS
    assert [row[1] for row in rows] == list(ZOO_PARAMETERS)
    runs = {run.data.tags["mlflow.runName"]: run for run in tracker.search("")}
    assert len(runs) == 7
    assert len({row[0] for row in rows}) == 7, "each model has its own description"
    for _, template, parameters, epochs, best_val, test_accuracy, seconds in rows:
        run = runs[template]
        assert int(parameters) == ZOO_PARAMETERS[template], template
        assert run.data.params["model.parameters"] == parameters
        assert epochs == "1"
        assert float(best_val) == pytest.approx(run.data.metrics["best_val_accuracy"], abs=5e-5)
        assert float(test_accuracy) == pytest.approx(run.data.metrics["test_accuracy"], abs=5e-5)
        assert float(seconds) > 0
        assert run.info.status == "FINISHED"
        assert run.data.tags["hypertune.zoo"] == "true"
        assert "model" not in [a.path for a in tracker.client.list_artifacts(run.info.run_id)]
        assert not (run.outputs and run.outputs.model_outputs), f"{template} logged a model"
    assert runs["relu_adam"].data.metrics["test_accuracy"] > 0.5
