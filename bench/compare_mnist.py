"""Grid, random, TPE and annealing side by side on MNIST: ``hypertune compare`` of
templates/mlp_space.py on one budget, with the table printed and the table and plot kept.

    python bench/compare_mnist.py            # 40 trials x 3 seeds per algorithm, ~16 minutes
    python bench/compare_mnist.py --quick    # 4 trials x 1 seed per algorithm, ~1 minute

It calls ``hypertune.compare.run_comparison`` as this command would:

    hypertune compare templates/mlp_space.py --algos tpe,rand,anneal,grid --grid-points 2 \\
        --max-evals 40 --repeats 3 --n-startup-jobs 10 --metric val_accuracy --target 0.93 \\
        --epochs 1 --seed 0 --data SUBSET.npz --val-size 5000

where SUBSET.npz holds the first 5,000 training images and, for validation, the last 5,000
(quick: ``--max-evals 4 --repeats 1 --n-startup-jobs 2 --target 0.8`` on 2,000 + 1,000
images). 3 x 3 series of 40 trials and one grid series make 400 one-epoch trials of about 3
seconds each on 2 cores. TPE starts modelling after 10 random trials, a quarter of the budget
(hyperopt's default of 20 would leave it half the budget to model); with the same seed,
``tpe`` and ``rand`` share those first trials. mlp_space.py's grid with 2 points per
continuous marker holds tens of thousands of configurations, so ``grid`` runs only the first
N in scikit-learn's
``ParameterGrid`` order, which varies a few markers and fixes the rest (the line under the
table says which). The table and plot go to bench/out/compare_mnist[-quick]/ (compare.md,
compare.png, and summary.md with what is printed here); the MLflow store is temporary. Data
come from ``HYPERTUNE_DATA``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent
TEMPLATE = str(ROOT.parent / "templates" / "mlp_space.py")
ALGORITHMS = ("tpe", "rand", "anneal", "grid")
GRID_POINTS = 2


@dataclass(frozen=True)
class Budget:
    max_evals: int
    repeats: int
    n_startup_jobs: int
    train_images: int
    val_images: int
    target: float


FULL = Budget(40, 3, 10, 5_000, 5_000, 0.93)
QUICK = Budget(4, 1, 2, 2_000, 1_000, 0.8)


def grid_note(max_evals: int) -> str:
    """Which markers the first ``max_evals`` grid configurations vary, and what they fix."""
    from hypertune.searchers import GridProposer, grid_size
    from hypertune.template import compile_template

    space = compile_template(TEMPLATE).space
    grid = GridProposer(space, GRID_POINTS, [])
    configs = [grid.propose(n, None, None) or {} for n in range(1, max_evals + 1)]
    varied = [n for n in space.names if len({repr(c.get(n)) for c in configs}) > 1]
    fixed = [
        f"{n}={configs[0][n]:.3g}" if isinstance(configs[0][n], float) else f"{n}={configs[0][n]}"
        for n in space.names
        if n in configs[0] and n not in varied
    ]
    verb = "varies" if len(varied) == 1 else "vary"
    return (
        f"grid ran the first {max_evals} of {grid_size(space, GRID_POINTS):,} configurations in "
        f"ParameterGrid order: only {', '.join(varied)} {verb}; fixed: {', '.join(fixed)}."
    )


def compare(budget: Budget, out: Path) -> str:
    """Run the comparison in a temporary store; return hypertune's table."""
    from hypertune.compare import run_comparison
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.template import compile_template
    from hypertune.tracking import Tracker

    template = compile_template(TEMPLATE)
    settings = SearchSettings(
        name=template.name,
        max_evals=budget.max_evals,
        seed=0,
        metric="val_accuracy",
        grid_points=GRID_POINTS,
        n_startup_jobs=budget.n_startup_jobs,
        progress=False,
    )
    fit = FitSettings(epochs=1, metric="val_accuracy")
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # MLflow puts a SQLite store's artifacts under ./mlruns
        path, val_size = harness.write_subset(Path(folder), budget.train_images, budget.val_images)
        tracker = Tracker(f"sqlite:///{folder}/mlflow.db", "bench-compare")
        comparison = run_comparison(
            template,
            ALGORITHMS,
            settings,
            budget.repeats,
            fit,
            DataRef(path, val_size),
            tracker,
            out,
            budget.target,
        )
        os.chdir(ROOT)
    return comparison.table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 trials, 1 seed, 2,000 images")
    args = parser.parse_args()
    budget = QUICK if args.quick else FULL
    out = ROOT / "out" / ("compare_mnist-quick" if args.quick else "compare_mnist")
    harness.source_path()
    os.environ.setdefault("KERAS_BACKEND", "jax")

    table = compare(budget, out)
    text = "\n".join(
        [
            harness.header(
                f", mlp_space, {budget.max_evals} trials x 1 epoch per run, "
                f"{budget.repeats} seed(s) per algorithm (grid: 1), {budget.train_images:,} "
                f"train + {budget.val_images:,} val images, val_accuracy, TPE start-up "
                f"{budget.n_startup_jobs}, JAX backend"
            ),
            table,
            "",
            grid_note(budget.max_evals),
            f"Table and plot: {out.relative_to(ROOT.parent)}/compare.md, compare.png",
        ]
    )
    print(text)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
