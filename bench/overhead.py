"""hypertune's cost per trial over bare Keras: a real TPE study of templates/mlp_space.py, and the
same configurations built and fitted with Keras alone, on the same split, seeds and batch sizes.

    python bench/overhead.py            # 30 trials x 1 epoch on full MNIST, ~5 minutes
    python bench/overhead.py --quick    # 6 trials x 1 epoch on 5,000 + 2,000 images, ~1.5 minutes

Three fresh processes run one after the other, each warmed up by one tiny fit before timing:

1. bare Keras fits the first half of the configurations (known in advance: TPE's first 20
   proposals are random draws seeded by the study seed and the trial number, so hypertune's own
   proposer, asked with an empty history, gives exactly what the study will try; checked after);
2. ``hypertune.study.run_study`` runs the whole study into a temporary SQLite MLflow store;
3. bare Keras fits the second half.

So half the bare fits run before the study and half after; drift of the machine shows as a
difference between the two "sum" rows rather than as overhead. Columns:

- study s: from the end of the previous trial's MLflow child run to the end of this one's (the
  first from its start); set-up (store creation, parent run) and close (best params, plots)
  are rows of their own;
- outside train s: study s less hypertune's own build + fit of the trial (``TrialRecord``
  seconds): MLflow calls, the TPE proposal, clearing the Keras session;
- bare build+fit s: ``template.load(params)``, the model function and ``model.fit`` with the
  trial's seed and batch size; overhead is study s less this, as a share of study s;
- val_loss diff: the study's value less the bare fit's; 0 when both trained the same model.

Data come from ``HYPERTUNE_DATA``; hypertune's split holds out the last 10,000 training images
(the quick subset: the first 5,000 training images and the last 2,000).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness

TEMPLATE = str(Path(__file__).resolve().parent.parent / "templates" / "mlp_space.py")
EXPERIMENT = "bench-overhead"
STUDY = "overhead"


def predicted_params(trials: int, seed: int) -> list[dict[str, Any]]:
    """What the study's first ``trials`` trials will try, from hypertune's own proposer."""
    from hypertune.data import DataRef
    from hypertune.search import Search, SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.template import compile_template
    from hypertune.tracking import Tracker

    settings = SearchSettings(name=STUDY, max_evals=trials, seed=seed)
    if trials > settings.n_startup_jobs:
        raise ValueError(f"only TPE's first {settings.n_startup_jobs} proposals are known ahead")
    search = Search(compile_template(TEMPLATE), settings, FitSettings(), DataRef(), Tracker(), "")
    return [
        search.proposer.propose(n, search.history, search.domain) for n in range(1, trials + 1)
    ]


def bare_worker(plan: dict[str, Any], configs: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Build and fit each configuration with Keras alone; time build + fit."""
    import keras

    from hypertune.data import DataRef, load_split
    from hypertune.template import compile_template

    split = load_split(DataRef(plan["data"], plan["val_size"]))
    template = compile_template(TEMPLATE)
    harness.warm_up(split)
    fitted = []
    for config in configs:
        keras.utils.set_random_seed(config["seed"])
        started = time.perf_counter()
        namespace = template.load(config["params"])
        model = namespace[template.function]()
        history = model.fit(
            split.x_train,
            split.y_train,
            batch_size=namespace["batch_size"],
            epochs=plan["epochs"],
            validation_data=(split.x_val, split.y_val),
            verbose=0,
        )
        seconds = time.perf_counter() - started
        fitted.append({"seconds": seconds, "val_loss": history.history["val_loss"][-1]})
        keras.backend.clear_session()
    return fitted


def study_worker(plan: dict[str, Any]) -> dict[str, Any]:
    """Run the study; report its trials with their MLflow start and end times."""
    from hypertune.data import DataRef, load_split
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.study import run_study
    from hypertune.template import compile_template
    from hypertune.tracking import Tracker

    os.chdir(plan["folder"])  # MLflow puts a SQLite store's artifacts under ./mlruns
    data = DataRef(plan["data"], plan["val_size"])
    harness.warm_up(load_split(data))
    template = compile_template(TEMPLATE)
    settings = SearchSettings(
        name=STUDY, max_evals=plan["trials"], seed=plan["seed"], progress=False
    )
    tracker = Tracker(f"sqlite:///{plan['folder']}/mlflow.db", EXPERIMENT)
    started = time.time()
    result = run_study(template, settings, FitSettings(epochs=plan["epochs"]), data, tracker)
    ended = time.time()

    trials = []
    for trial in sorted(result.trials, key=lambda t: t.number):
        info = tracker.get_run(trial.run_id).info
        trials.append(
            {
                "number": trial.number,
                "params": trial.params,
                "status": trial.status,
                "val_loss": trial.value,
                "train_seconds": trial.seconds,
                "run_start": info.start_time / 1000,
                "run_end": info.end_time / 1000,
            }
        )
    return {"started": started, "ended": ended, "trials": trials}


def run(plan: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Bare first half, the study, bare second half; return the study and every bare fit."""
    from hypertune.searchers import trial_seed

    half = plan["trials"] // 2
    ahead = predicted_params(half, plan["seed"])
    first = [{"params": p, "seed": trial_seed(plan["seed"], n, 1)} for n, p in enumerate(ahead, 1)]
    bare = bare_phase(plan, first, "bare-first")
    study = harness.run_worker(__file__, "--worker", "study", plan["folder"])

    tried = [t["params"] for t in study["trials"]]
    if tried[:half] != json.loads(json.dumps(ahead)):
        sys.exit("Error: the study did not try the predicted configurations; see predicted_params")
    second = [
        {"params": t["params"], "seed": trial_seed(plan["seed"], t["number"], 1)}
        for t in study["trials"][half:]
    ]
    return study, bare + bare_phase(plan, second, "bare-after")


def bare_phase(plan: dict[str, Any], configs: list[dict[str, Any]], name: str) -> Any:
    path = Path(plan["folder"]) / f"{name}.json"
    path.write_text(json.dumps(configs))
    return harness.run_worker(__file__, "--worker", "bare", plan["folder"], str(path))


def table(study: dict[str, Any], bare: list[dict[str, float]], half: int) -> str:
    import numpy as np

    from hypertune._table import markdown_table

    trials = study["trials"]
    ends = [trials[0]["run_start"]] + [t["run_end"] for t in trials]
    walls = [after - before for before, after in itertools.pairwise(ends)]
    columns = np.array(
        [
            [wall, wall - t["train_seconds"], t["train_seconds"], fit["seconds"]]
            for wall, t, fit in zip(walls, trials, bare, strict=True)
        ]
    )
    rows = []
    for index, (trial, fit) in enumerate(zip(trials, bare, strict=True)):
        order = "bare first" if index < half else "study first"
        diff = f"{trial['val_loss'] - fit['val_loss']:+.1e}"
        label = harness.describe(trial["params"])
        rows.append(_row(trial["number"], order, label, columns[index], diff))

    setup = trials[0]["run_start"] - study["started"]
    close = study["ended"] - trials[-1]["run_end"]
    rows.append(_row("set-up", "once", "store, experiment, parent run", [setup, setup, 0, 0]))
    rows.append(_row("close", "once", "best params, plots", [close, close, 0, 0]))
    for name, part in (("bare first", columns[:half]), ("study first", columns[half:])):
        rows.append(_row("sum", name, f"{len(part)} trials", part.sum(axis=0)))
    rows.append(_row("median", "", "trial", np.median(columns, axis=0)))
    total = columns.sum(axis=0)
    total[:2] += setup + close
    rows.append(_row("total", "", f"{len(trials)} trials, set-up, close", total))

    headers = (
        "trial",
        "order",
        "configuration",
        "study s",
        "outside train s",
        "hypertune train s",
        "bare build+fit s",
        "overhead s",
        "overhead %",
        "val_loss diff",
    )
    return markdown_table(headers, rows)


def _row(trial: object, order: str, what: str, numbers: Any, diff: str = "") -> list[object]:
    """Study, outside-train, train and bare seconds, then the overhead: study minus bare."""
    study, outside, train, bare = numbers
    cells = [
        f"{study:.2f}",
        f"{outside:.2f}",
        f"{train:.2f}" if train else "",
        f"{bare:.2f}" if bare else "",
    ]
    overhead = [f"{study - bare:+.2f}", f"{100 * (study - bare) / study:+.1f}"]
    return [trial, order, what, *cells, *overhead, diff]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 trials on 5,000 + 2,000 images")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, folder, *rest = args.worker
        plan = json.loads((Path(folder) / "plan.json").read_text())
        done = study_worker(plan) if kind == "study" else bare_worker(plan, load_json(rest[0]))
        print(json.dumps(done))
        return

    trials = args.trials or (6 if args.quick else 30)
    if not 2 <= trials <= 40:
        parser.error(f"--trials must lie in 2-40 (half are fitted bare first), but got {trials}")
    with tempfile.TemporaryDirectory() as folder:
        sizes = (5_000, 2_000) if args.quick else (None, harness.VALIDATION_IMAGES)
        data, val_size = harness.write_subset(Path(folder), *sizes)
        plan = {
            "folder": folder,
            "data": data,
            "val_size": val_size,
            "trials": trials,
            "seed": args.seed,
            "epochs": 1,
        }
        (Path(folder) / "plan.json").write_text(json.dumps(plan))
        study, bare = run(plan)

    train = sizes[0] or 50_000
    print(
        harness.header(
            f", mlp_space, {trials} trials x 1 epoch, {train:,} train + "
            f"{val_size:,} val images, JAX backend, study seed {args.seed}"
        )
    )
    print(table(study, bare, trials // 2))


def load_json(path: str) -> Any:
    return json.loads(Path(path).read_text())


if __name__ == "__main__":
    main()
