"""``hypertune compare``: several search algorithms on one space and budget."""

from __future__ import annotations

from pathlib import Path

import click

from hypertune.cli._options import (
    data_options,
    fit_options,
    function_option,
    load_template,
    search_options,
    tracking_options,
)
from hypertune.errors import BadInputError


@click.command()
@click.argument("template_path", metavar="TEMPLATE")
@click.option(
    "--algos",
    default="tpe,rand,anneal",
    show_default=True,
    help="Comma-separated: tpe, rand, anneal, atpe, grid, sklearn-random.",
)
@click.option(
    "--max-evals",
    type=click.IntRange(min=1),
    required=True,
    help="Trials per run of each algorithm.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs per algorithm, with seeds seed, seed+1, ... (grid runs once).",
)
@click.option(
    "--target",
    type=float,
    default=None,
    help="Report the median number of trials needed to reach this value.",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    help="Folder for compare.md and compare.png (default: compare-TEMPLATE).",
)
@search_options
@fit_options
@data_options
@tracking_options
@function_option
def compare(
    template_path: str,
    algos: str,
    max_evals: int,
    repeats: int,
    target: float | None,
    out_dir: str | None,
    metric: str,
    n_startup_jobs: int,
    gamma: float,
    n_ei_candidates: int,
    grid_points: int | None,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
    model_function: str | None,
) -> None:
    """Run several search algorithms on the same space and budget; plot and tabulate them.

    \b
        hypertune compare templates/mlp_space.py --algos tpe,rand,anneal,grid \\
            --max-evals 20 --repeats 3 --grid-points 2 --epochs 1
    """
    from hypertune.compare import run_comparison
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker

    names = [a.strip() for a in algos.split(",") if a.strip()]
    if not names:
        raise BadInputError("--algos needs at least one algorithm, like --algos tpe,rand")
    template = load_template(template_path, model_function)
    settings = SearchSettings(
        name=template.name,
        max_evals=max_evals,
        seed=seed,
        metric=metric,
        grid_points=grid_points,
        n_startup_jobs=n_startup_jobs,
        gamma=gamma,
        n_ei_candidates=n_ei_candidates,
        progress=False,
    )
    fit = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, metric=metric)
    tracker = Tracker(tracking_uri, experiment)
    out = Path(out_dir or f"compare-{template.name}")
    comparison = run_comparison(
        template,
        names,
        settings,
        repeats,
        fit,
        DataRef.resolve(data_path, val_size),
        tracker,
        out,
        target,
    )
    click.echo(comparison.table)
    click.echo(
        f"\nWrote {', '.join(str(p) for p in comparison.files)}; MLflow comparison run "
        f"{comparison.run_id} in experiment '{experiment}' at {tracker.uri}"
    )
