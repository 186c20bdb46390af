"""hypertune beside Optuna, KerasTuner and plain hyperopt on one search: templates/mlp_space.py's
space, the same split, epochs, trials and random start-up trials, three seeds each.

    python bench/peers.py            # 10 trials x 1 epoch, 20,000 + 10,000 images, ~10 minutes
    python bench/peers.py --quick    # 3 trials x 1 epoch, 2,000 + 1,000 images, 2 seeds, ~3 min

Needs the benchmark extra: ``pip install -e '.[bench]'`` (optuna, optuna-integration,
keras-tuner). Every (tool, seed) runs in a fresh process on the JAX backend, warmed up by one
tiny fit before timing, and maximizes the validation accuracy of the last epoch:

- hypertune: ``run_study`` (TPE) on templates/mlp_space.py, every trial an MLflow child run;
- Optuna: ``TPESampler`` with ``optuna_integration.MLflowCallback``, a run per trial;
- KerasTuner: ``BayesianOptimization``, which keeps its trials and checkpoints on disk;
- hyperopt: ``fmin`` with ``tpe.suggest``, a hand-written ``hp`` space and objective, no record.

The three hand-written spaces follow mlp_space.py: 1-3 layers (units of layers 2 and 3 only
when present), relu/sigmoid, initializer, batch norm, dropout, batch size, and SGD (momentum
0.9) / Adam / RMSprop, each with its log-uniform learning-rate range. Each tool draws the first
half of its trials at random (TPE's and BayesianOptimization's start-up), then models; every
trial's weights are seeded from the seed and the trial number, as hypertune does (KerasTuner:
the number of models built, as it builds some that it never fits). The split
is hypertune's ``load_split`` (validation: the last 10,000 training images; the quick run the
last 1,000) on the first 20,000 (quick: 2,000) training images.

``keras.Model.fit`` is timed in each process. A trial runs from the end of the previous fit
(the first trial from the start of the search) to the end of its own; the search's closing
work counts on the last trial. Columns are medians over all trials of all seeds: "outside fit"
is a trial less its fit; "build" the part of that from the trial's ``keras.Input`` call (where
each model starts) to its fit: the same Keras work for every tool, where on JAX a layer shape
new to the process costs a second or two of compiling; "rest" what is left, the tool's own
work: proposing, recording, set-up (medians, so they need not add up). "outside fit % of
wall" sums over trials. The best accuracy is read from the fits themselves, the same way for
every tool. Peak memory is the process's VmHWM. The tools take turns, in an order rotated with
each seed, so drift of the machine spreads over all of them. Data come from ``HYPERTUNE_DATA``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import harness

TOOLS = ("hypertune", "optuna", "keras-tuner", "hyperopt")
RECORDS = {
    "hypertune": "MLflow (SQLite)",
    "optuna": "MLflow (SQLite), via callback",
    "keras-tuner": "trial folders, checkpoints",
    "hyperopt": "none (in memory)",
}
TEMPLATE = str(Path(__file__).resolve().parent.parent / "templates" / "mlp_space.py")

BATCH_SIZES = [64, 128, 256]
UNITS = ([128, 256, 512, 1024], [64, 128, 256, 512], [32, 64, 128, 256])
LEARNING_RATES = {"sgd": (1e-3, 0.3), "adam": (1e-4, 1e-2), "rmsprop": (1e-4, 1e-2)}


# -- the model every hand-written search builds: mlp_space.py without markers -----------------


def build_model(params: dict[str, Any]) -> Any:
    """A compiled MLP from plain params (``units`` lists the width of each layer)."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(784,))])
    for units in params["units"]:
        model.add(
            layers.Dense(
                units, kernel_initializer=params["initializer"], use_bias=not params["batch_norm"]
            )
        )
        if params["batch_norm"]:
            model.add(layers.BatchNormalization())
        model.add(layers.Activation(params["activation"]))
        model.add(layers.Dropout(params["dropout"]))
    model.add(layers.Dense(10, activation="softmax"))
    rate = params["learning_rate"]
    optimizer = {
        "sgd": lambda: keras.optimizers.SGD(learning_rate=rate, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(learning_rate=rate),
        "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=rate),
    }[params["optimizer"]]()
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def seed_trial(seed: int, number: int) -> None:
    import keras

    keras.utils.set_random_seed(seed * 1000 + number)


# -- one function per tool; each returns when its search is done ------------------------------


def run_hypertune(plan: dict[str, Any], split: Any, seed: int) -> None:
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.study import run_study
    from hypertune.template import compile_template
    from hypertune.tracking import Tracker

    settings = SearchSettings(
        name=f"peers-{seed}",
        max_evals=plan["trials"],
        seed=seed,
        metric="val_accuracy",
        n_startup_jobs=plan["startup"],
        progress=False,
    )
    fit = FitSettings(epochs=plan["epochs"], metric="val_accuracy")
    tracker = Tracker(f"sqlite:///{os.getcwd()}/hypertune.db", "bench-peers")
    data = DataRef(plan["data"], plan["val_size"])
    run_study(compile_template(TEMPLATE), settings, fit, data, tracker)


def run_optuna(plan: dict[str, Any], split: Any, seed: int) -> None:
    import optuna
    from optuna_integration import MLflowCallback

    def objective(trial: optuna.Trial) -> float:
        layers = trial.suggest_categorical("n_layers", [1, 2, 3])
        optimizer = trial.suggest_categorical("optimizer", list(LEARNING_RATES))
        params = {
            "units": [
                trial.suggest_categorical(f"units_{i + 1}", UNITS[i]) for i in range(layers)
            ],
            "activation": trial.suggest_categorical("activation", ["relu", "sigmoid"]),
            "initializer": trial.suggest_categorical(
                "initializer", ["he_normal", "glorot_uniform"]
            ),
            "batch_norm": trial.suggest_categorical("batch_norm", [False, True]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "optimizer": optimizer,
            "learning_rate": trial.suggest_float(
                f"{optimizer}_learning_rate", *LEARNING_RATES[optimizer], log=True
            ),
        }
        batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
        seed_trial(seed, trial.number + 1)
        return fit_accuracy(build_model(params), split, batch_size, plan["epochs"])

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=plan["startup"])
    study = optuna.create_study(study_name=f"peers-{seed}", direction="maximize", sampler=sampler)
    callback = MLflowCallback(
        tracking_uri=f"sqlite:///{os.getcwd()}/optuna.db", metric_name="val_accuracy"
    )
    study.optimize(objective, n_trials=plan["trials"], callbacks=[callback])


def run_keras_tuner(plan: dict[str, Any], split: Any, seed: int) -> None:
    import keras_tuner

    class MLP(keras_tuner.HyperModel):  # type: ignore[misc]
        built = 0

        def build(self, hp: keras_tuner.HyperParameters) -> Any:
            layers = hp.Choice("n_layers", [1, 2, 3])
            units = [hp.Choice("units_1", UNITS[0])]
            for i, active in ((2, [2, 3]), (3, [3])):
                with hp.conditional_scope("n_layers", active):
                    if layers in active:
                        units.append(hp.Choice(f"units_{i}", UNITS[i - 1]))
            optimizer = hp.Choice("optimizer", list(LEARNING_RATES))
            rates = {}
            for name, (low, high) in LEARNING_RATES.items():
                with hp.conditional_scope("optimizer", [name]):
                    if optimizer == name:
                        rates[name] = hp.Float(f"{name}_lr", low, high, sampling="log")
            params = {
                "units": units,
                "activation": hp.Choice("activation", ["relu", "sigmoid"]),
                "initializer": hp.Choice("initializer", ["he_normal", "glorot_uniform"]),
                "batch_norm": hp.Boolean("batch_norm"),
                "dropout": hp.Float("dropout", 0.0, 0.5),
                "optimizer": optimizer,
                "learning_rate": rates[optimizer],
            }
            MLP.built += 1
            seed_trial(seed, MLP.built)
            return build_model(params)

        def fit(self, hp: keras_tuner.HyperParameters, model: Any, *args: Any, **kw: Any) -> Any:
            return model.fit(*args, batch_size=hp.Choice("batch_size", BATCH_SIZES), **kw)

    tuner = keras_tuner.BayesianOptimization(
        MLP(),
        objective="val_accuracy",
        max_trials=plan["trials"],
        num_initial_points=plan["startup"],
        seed=seed,
        directory=os.getcwd(),
        project_name=f"peers-{seed}",
    )
    tuner.search(
        split.x_train,
        split.y_train,
        epochs=plan["epochs"],
        validation_data=(split.x_val, split.y_val),
        verbose=0,
    )


def run_hyperopt(plan: dict[str, Any], split: Any, seed: int) -> None:
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    log = math.log
    depth = hp.choice(
        "n_layers",
        [
            [],
            [hp.choice("units_2_of_2", UNITS[1])],
            [hp.choice("units_2_of_3", UNITS[1]), hp.choice("units_3", UNITS[2])],
        ],
    )
    optimizer = hp.choice(
        "optimizer",
        [
            {"optimizer": name, "learning_rate": hp.loguniform(f"{name}_lr", log(low), log(high))}
            for name, (low, high) in LEARNING_RATES.items()
        ],
    )
    space = {
        "batch_size": hp.choice("batch_size", BATCH_SIZES),
        "units_1": hp.choice("units_1", UNITS[0]),
        "depth": depth,
        "activation": hp.choice("activation", ["relu", "sigmoid"]),
        "initializer": hp.choice("initializer", ["he_normal", "glorot_uniform"]),
        "batch_norm": hp.choice("batch_norm", [False, True]),
        "dropout": hp.uniform("dropout", 0.0, 0.5),
        "optimizer": optimizer,
    }
    trials = Trials()

    def objective(sampled: dict[str, Any]) -> dict[str, Any]:
        units = [sampled["units_1"], *sampled["depth"]]
        params = {**sampled, **sampled["optimizer"], "units": units}
        seed_trial(seed, len(trials.trials))
        batch_size = sampled["batch_size"]
        accuracy = fit_accuracy(build_model(params), split, batch_size, plan["epochs"])
        return {"loss": -accuracy, "status": STATUS_OK}

    fmin(
        objective,
        space,
        algo=functools.partial(tpe.suggest, n_startup_jobs=plan["startup"]),
        max_evals=plan["trials"],
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )


RUNNERS = {
    "hypertune": run_hypertune,
    "optuna": run_optuna,
    "keras-tuner": run_keras_tuner,
    "hyperopt": run_hyperopt,
}


def fit_accuracy(model: Any, split: Any, batch_size: int, epochs: int) -> float:
    history = model.fit(
        split.x_train,
        split.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(split.x_val, split.y_val),
        verbose=0,
    )
    return float(history.history["val_accuracy"][-1])


# -- the worker process and the table ---------------------------------------------------------


def clock_keras(fits: list[dict[str, float]], builds: list[float]) -> None:
    """Record each call of ``keras.Input`` (where every model here starts), and the start, end
    and last val_accuracy of every ``keras.Model.fit`` call."""
    import keras

    create, fit = keras.Input, keras.Model.fit

    def created(*args: Any, **kwargs: Any) -> Any:
        builds.append(time.perf_counter())
        return create(*args, **kwargs)

    @functools.wraps(fit)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        history = fit(self, *args, **kwargs)
        accuracy = history.history.get("val_accuracy", [math.nan])[-1]
        fits.append({"start": started, "end": time.perf_counter(), "accuracy": accuracy})
        return history

    keras.Input = created
    keras.Model.fit = timed


def worker(plan: dict[str, Any], tool: str, seed: int) -> dict[str, Any]:
    """Run one tool's search in this process; report its fits, wall time and peak memory."""
    from hypertune.data import DataRef, load_split

    folder = Path(plan["folder"]) / f"{tool}-{seed}"
    folder.mkdir()
    os.chdir(folder)  # MLflow's and KerasTuner's files land here
    split = load_split(DataRef(plan["data"], plan["val_size"]))
    harness.warm_up(split)
    fits: list[dict[str, float]] = []
    builds: list[float] = []
    clock_keras(fits, builds)

    started = time.perf_counter()
    RUNNERS[tool](plan, split, seed)
    ended = time.perf_counter()
    peak = harness.memory_mib("VmHWM")
    return {
        "tool": tool,
        "seed": seed,
        "started": started,
        "ended": ended,
        "fits": fits,
        "builds": builds,
        "peak_mib": peak,
    }


def per_trial(result: dict[str, Any]) -> list[dict[str, float]]:
    """Each trial's wall time, fit time, and time from creating its model to fitting it."""
    trials = []
    previous = result["started"]
    for fit in result["fits"]:
        created = [b for b in result["builds"] if previous <= b <= fit["start"]]
        trials.append(
            {
                "wall": fit["end"] - previous,
                "fit": fit["end"] - fit["start"],
                "build": fit["start"] - created[-1] if created else 0.0,
            }
        )
        previous = fit["end"]
    trials[-1]["wall"] += result["ended"] - previous  # closing the search counts on the last
    return trials


def table(results: list[dict[str, Any]]) -> str:
    from hypertune._table import markdown_table

    rows = []
    for tool in dict.fromkeys(r["tool"] for r in results):
        mine = [r for r in results if r["tool"] == tool]
        trials = [t for r in mine for t in per_trial(r)]
        walls = [t["wall"] for t in trials]
        outside = [t["wall"] - t["fit"] for t in trials]
        own = [t["wall"] - t["fit"] - t["build"] for t in trials]
        best = [max(f["accuracy"] for f in r["fits"]) for r in mine]
        rows.append(
            [
                f"{tool} {version(tool)}",
                RECORDS[tool],
                f"{len(mine)} x {len(trials) // len(mine)}",
                f"{statistics.median(walls):.2f}",
                f"{statistics.median(outside):.2f}",
                f"{statistics.median(t['build'] for t in trials):.2f}",
                f"{statistics.median(own):.2f}",
                f"{100 * sum(outside) / sum(walls):.1f}",
                f"{statistics.median(best):.4f}",
                f"{min(best):.4f}-{max(best):.4f}",
                f"{statistics.median(r['peak_mib'] for r in mine):.0f}",
            ]
        )
    headers = (
        "tool",
        "records",
        "seeds x trials",
        "s/trial",
        "outside fit s/trial",
        "build s/trial",
        "rest s/trial",
        "outside fit % of wall",
        "best val acc (median)",
        "best val acc (min-max)",
        "peak MiB (VmHWM)",
    )
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 trials, 2 seeds, 2,000 images")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        folder, tool, seed = args.worker
        plan = json.loads((Path(folder) / "plan.json").read_text())
        print(json.dumps(worker(plan, tool, int(seed))))
        return

    trials, seeds, train, val = (3, 2, 2_000, 1_000) if args.quick else (10, 3, 20_000, 10_000)
    tools = args.tools.split(",")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        data, val_size = harness.write_subset(Path(folder), train, val)
        plan = {
            "folder": folder,
            "data": data,
            "val_size": val_size,
            "trials": trials,
            "startup": trials // 2,
            "epochs": 1,
        }
        (Path(folder) / "plan.json").write_text(json.dumps(plan))
        for seed in range(seeds):
            order = tools[seed % len(tools) :] + tools[: seed % len(tools)]  # spread drift
            for tool in order:
                results.append(harness.run_worker(__file__, "--worker", folder, tool, str(seed)))
                print(
                    f"  {tool}, seed {seed}: {results[-1]['ended'] - results[-1]['started']:.0f}s",
                    file=sys.stderr,
                )

    print(
        harness.header(
            f", {trials} trials x 1 epoch per search ({trials // 2} random), "
            f"{train:,} train + {val_size:,} val images, JAX backend, Keras "
            f"{version('keras')}"
        )
    )
    print(table(results))


if __name__ == "__main__":
    main()
