"""Templates written for Hyperas, tuned as studies: the scenarios of Hyperas's own examples.

Each template below is a Hyperas script as people wrote them (``hyperas`` and ``hyperopt``
imports, a ``data()`` function, a model function that fits and returns ``{'loss': ...,
'status': STATUS_OK, 'model': model}``, an ``optim.minimize`` call under ``__main__``), changed
only where Keras 3 removed an import. hyperas itself is not installed: hypertune reads them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

HEADER = """\
from hyperopt import STATUS_OK, Trials, tpe
from hyperas import optim
from hyperas.distributions import choice, uniform

import numpy as np
import keras
from keras.layers import Activation, Dense, Dropout, Input
from keras.models import Sequential
from keras.utils import to_categorical


def data():
    with np.load({path!r}) as arrays:
        images, labels = arrays["x_train"][:1200], arrays["y_train"][:1200]
    images = images.reshape(-1, 784).astype("float32") / 255
    labels = to_categorical(labels, 10)
    return images[:900], labels[:900], images[900:], labels[900:]
"""

MAIN = """

if __name__ == "__main__":
    best_run, best_model = optim.minimize(
        model=create_model, data=data, algo=tpe.suggest, max_evals=5, trials=Trials()
    )
    print(best_run)
"""

# Hyperas's simple example: dropout rates, a layer's width and activation, the optimizer and
# the batch size; the model function fits and reports minus its best validation accuracy.
SIMPLE = """

def create_model(x_train, y_train, x_test, y_test):
    model = Sequential()
    model.add(Input((784,)))
    model.add(Dense(64))
    model.add(Activation("relu"))
    model.add(Dropout({{uniform(0, 1)}}))
    model.add(Dense({{choice([32, 64, 128])}}))
    model.add(Activation({{choice(["relu", "sigmoid"])}}))
    model.add(Dropout({{uniform(0, 1)}}))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    model.compile(
        loss="categorical_crossentropy",
        optimizer={{choice(["rmsprop", "adam", "sgd"])}},
        metrics=["accuracy"],
    )
    result = model.fit(
        x_train, y_train, batch_size={{choice([64, 128])}}, epochs=1, verbose=2,
        validation_data=(x_test, y_test),
    )
    accuracy = np.amax(result.history["val_accuracy"])
    return {"loss": -accuracy, "status": STATUS_OK, "model": model}
"""

# Hyperas's complex example: a fourth layer only in one branch, and a whole layer chosen.
CONDITIONAL = """

def create_model(x_train, y_train, x_test, y_test):
    model = Sequential()
    model.add(Input((784,)))
    model.add(Dense({{choice([32, 64])}}, activation="relu"))
    if {{choice(["three", "four"])}} == "four":
        model.add(Dense(16))
        model.add({{choice([Dropout(0.5), Activation("linear")])}})
        model.add(Activation("relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"loss": loss, "status": STATUS_OK, "model": model}
"""

# Hyperas's optimizer example: three optimizers built with their own learning rates, one of
# them picked by an if/elif chain on a choice. The rates stand outside the chain, so (as in
# Hyperas) all three are sampled on every trial; docs/templates.md shows how to write the
# markers inside the branches so that only the chosen optimizer's rate is sampled.
OPTIMIZERS = """

def create_model(x_train, y_train, x_test, y_test):
    model = Sequential([Input((784,)), Dense(32, activation="relu")])
    model.add(Dense(10, activation="softmax"))
    adam = keras.optimizers.Adam(learning_rate={{choice([1e-3, 1e-2])}})
    rmsprop = keras.optimizers.RMSprop(learning_rate={{choice([1e-3, 1e-2])}})
    sgd = keras.optimizers.SGD(learning_rate={{choice([1e-2, 1e-1])}})
    picked = {{choice(["adam", "sgd", "rmsprop"])}}
    if picked == "adam":
        optimizer = adam
    elif picked == "sgd":
        optimizer = sgd
    else:
        optimizer = rmsprop
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"loss": loss, "status": STATUS_OK, "model": model}
"""

# Hyperas's example with helper functions (there passed as ``functions=[...]``): data() and
# the model function call functions of the same file; data() notes each call in a file.
HELPERS = """\
from hyperopt import STATUS_OK
from hyperas.distributions import choice

import numpy as np
import keras


def scaled(images):
    return images.reshape(-1, 784).astype("float32") / 255


def one_hot(labels):
    return keras.utils.to_categorical(labels, 10)


def hidden_layers(units, depth):
    return [keras.layers.Dense(units, activation="relu") for _ in range(depth)]


def data():
    with open(CALLS_PATH, "a") as calls:
        calls.write("data\\n")
    with np.load(DATA_PATH) as arrays:
        images, labels = scaled(arrays["x_train"][:1200]), one_hot(arrays["y_train"][:1200])
    return images[:900], labels[:900], images[900:], labels[900:]


def create_model(x_train, y_train, x_test, y_test):
    layers = hidden_layers({{choice([16, 32])}}, {{choice([1, 2])}})
    output = keras.layers.Dense(10, activation="softmax")
    model = keras.Sequential([keras.Input((784,)), *layers, output])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"loss": loss, "status": STATUS_OK, "model": model}
"""


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def _script(tmp_path: Path, mnist_path: Path, name: str, body: str) -> Path:
    """A Hyperas script: the shared imports and data(), ``body``, and the ``__main__`` block."""
    return _write(tmp_path, name, HEADER.format(path=str(mnist_path)) + body + MAIN)


def _tune(run_cli, tracker, template: Path, study: str, trials: int, *more: str):  # type: ignore[no-untyped-def]
    """Run a study of ``trials`` trials; return its trials, checked all FINISHED."""
    from hypertune.record import find_studies, load_trials

    result = run_cli(
        "tune", template, "--max-evals", str(trials), "--study", study, "--seed", "3", *more
    )
    assert result.exit_code == 0, result.output
    [parent] = find_studies(tracker, study)
    recorded = load_trials(tracker, parent.info.run_id)
    assert [t.status for t in recorded] == ["FINISHED"] * trials
    return recorded


def test_simple_example_tunes_and_trains_its_best(
    run_cli, tracker, mnist_path: Path, tmp_path: Path
) -> None:
    template = _script(tmp_path, mnist_path, "simple", SIMPLE)

    trials = _tune(run_cli, tracker, template, "simple", 3)

    for trial in trials:
        params = tracker.get_run(trial.run_id).data.params
        assert params["Dense_2.units"] in ("32", "64", "128")
        assert params["Activation_2.activation"] in ("'relu'", "'sigmoid'", "relu", "sigmoid")
        assert params["optimizer"].strip("'") in ("rmsprop", "adam", "sgd")
        assert 0 <= float(params["Dropout_1.rate"]) <= 1
        assert -1 <= trial.value < 0, "the template reports minus its validation accuracy"
    best = min(trials, key=lambda t: t.value)
    shown = run_cli("best", "simple")
    assert json.loads(shown.stdout) == best.params

    trained = run_cli("train", template, "--from-study", "simple", "--no-log-model")
    assert trained.exit_code == 0, trained.output
    assert f"(study simple, trial {best.number})" in trained.stdout
    assert "Test accuracy: " in trained.stdout


def test_conditional_layer_is_sampled_only_in_its_branch(
    run_cli, tracker, mnist_path: Path, tmp_path: Path
) -> None:
    template = _script(tmp_path, mnist_path, "conditional", CONDITIONAL)

    trials = _tune(run_cli, tracker, template, "conditional", 6, "--algo", "rand")

    for trial in trials:
        layer = [name for name in trial.params if name.startswith("layer_")]
        if trial.params["branch_1"] == "four":
            assert len(layer) == 1
            assert trial.params[layer[0]] in ("Dropout(0.5)", 'Activation("linear")')
        else:
            assert layer == [], "a marker of the untaken branch was sampled"
        logged = tracker.get_run(trial.run_id).data.params
        assert set(trial.params) <= set(logged)
        assert not any(name.startswith("layer_") for name in logged) or layer


def test_optimizer_chosen_by_an_if_chain_trains_with_its_own_rate(
    run_cli, tracker, mnist_path: Path, tmp_path: Path
) -> None:
    template = _script(tmp_path, mnist_path, "optimizers", OPTIMIZERS)

    trials = _tune(run_cli, tracker, template, "optimizers", 4, "--algo", "rand")

    rates = ("Adam_1.learning_rate", "RMSprop_1.learning_rate", "SGD_1.learning_rate")
    for trial in trials:
        assert trial.params["picked"] in ("adam", "sgd", "rmsprop")
        assert set(trial.params) == {"picked", *rates}

    best = min(trials, key=lambda t: t.objective)
    trained = run_cli("train", template, "--from-study", "optimizers")
    assert trained.exit_code == 0, trained.output
    run_id = re.search(r"MLflow run ([0-9a-f]{32}) ", trained.stdout).group(1)
    logged = tracker.get_run(run_id).data.params
    chosen = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[best.params["picked"]]
    assert logged["model.optimizer"] == chosen
    assert float(logged["model.learning_rate"]) == pytest.approx(
        best.params[f"{chosen}_1.learning_rate"]
    )


def test_helper_functions_run_and_data_loads_once_per_study(
    run_cli, tracker, mnist_path: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "data-calls.txt"
    template = _write(
        tmp_path,
        "helpers",
        HELPERS.replace("DATA_PATH", repr(str(mnist_path))).replace(
            "CALLS_PATH", repr(str(calls))
        ),
    )

    trials = _tune(run_cli, tracker, template, "helpers", 3)

    assert calls.read_text() == "data\n", "data() runs once per study, not once per trial"
    for trial in trials:
        assert set(trial.params) == {"hidden_layers_1.units", "hidden_layers_1.depth"}
        assert trial.params["hidden_layers_1.units"] in (16, 32)
        assert trial.params["hidden_layers_1.depth"] in (1, 2)


@pytest.mark.parametrize("name", ["simple", "conditional", "optimizers"])
def test_examples_compile_without_running(name: str, mnist_path: Path, tmp_path: Path) -> None:
    from hypertune.template import compile_template

    body = {"simple": SIMPLE, "conditional": CONDITIONAL, "optimizers": OPTIMIZERS}[name]
    template = compile_template(_script(tmp_path, mnist_path, name, body))

    assert template.function == "create_model"
    assert template.takes_data and template.has_data_function
    assert not template.needs_split
