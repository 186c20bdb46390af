"""``hypertune tune``, ``best`` and ``studies``: run a study, read back its best params."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hypertune._logging import get_logger
from hypertune.cli._options import (
    data_options,
    fit_options,
    function_option,
    load_template,
    search_options,
    tracking_options,
)

_log = get_logger(__name__)


@click.command()
@click.argument("template_path", metavar="TEMPLATE")
@click.option(
    "--max-evals",
    type=int,
    default=None,
    help="Trials in the study, in total (a resumed study runs only the rest). Required except "
    "with --algo grid, which defaults to the whole grid.",
)
@click.option(
    "--algo",
    type=click.Choice(["tpe", "rand", "anneal", "atpe", "grid", "sklearn-random"]),
    default="tpe",
    show_default=True,
    help="hyperopt's algorithms, or scikit-learn's ParameterGrid / ParameterSampler.",
)
@click.option(
    "--study",
    "study_name",
    default=None,
    help="Study name (default: the template's file name). Rerun to resume.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Start no new trial after this many seconds.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=None,
    help="Stop the study once more trials than this have failed.",
)
@click.option("--force", is_flag=True, help="Resume even though the template changed.")
@click.option(
    "--quiet", "no_progress", is_flag=True, help="No progress bar: one log line per trial only."
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Trials in the final table.",
)
@search_options
@fit_options
@data_options
@tracking_options
@function_option
def tune(
    template_path: str,
    max_evals: int | None,
    algo: str,
    grid_points: int | None,
    study_name: str | None,
    timeout: float | None,
    metric: str,
    max_failures: int | None,
    n_startup_jobs: int,
    gamma: float,
    n_ei_candidates: int,
    force: bool,
    no_progress: bool,
    top: int,
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
    """Search TEMPLATE's space with TPE (or another algorithm), every trial a run in MLflow.

    \b
        hypertune tune templates/mlp_space.py --max-evals 50 --epochs 5 --patience 2
    """
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.study import run_study
    from hypertune.tracking import Tracker

    template = load_template(template_path, model_function)
    settings = SearchSettings(
        name=study_name or template.name,
        max_evals=max_evals,
        algo=algo,
        seed=seed,
        timeout=timeout,
        metric=metric,
        n_startup_jobs=n_startup_jobs,
        gamma=gamma,
        n_ei_candidates=n_ei_candidates,
        grid_points=grid_points,
        max_failures=max_failures,
        force=force,
        progress=not no_progress and _log.isEnabledFor(20) and sys.stderr.isatty(),
    )
    fit = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, metric=metric)
    tracker = Tracker(tracking_uri, experiment)
    result = run_study(template, settings, fit, DataRef.resolve(data_path, val_size), tracker)
    _print_study(result, tracker, top)


def _print_study(result: Any, tracker: Any, top: int) -> None:
    from hypertune._table import markdown_table

    finished = sorted(result.finished, key=lambda t: (t.objective, t.number))[:top]
    failed = sum(1 for t in result.trials if not t.ok)
    click.echo(
        f"Study '{result.name}': {len(result.trials)} trials ({result.new_trials} new, "
        f"{failed} failed)" + (f"; stopped: {result.stopped}" if result.stopped else "")
    )
    rows = [
        (t.number, t.value, t.epochs, f"{t.seconds:.1f}", _compact(t.params)) for t in finished
    ]
    click.echo(markdown_table(("trial", result.metric, "epochs", "seconds", "params"), rows))
    best = result.best
    if best is not None:
        click.echo(f"\nBest params (trial {best.number}, {result.metric} {best.value:.4f}):")
        click.echo(json.dumps(best.params, indent=2))
    click.echo(
        f"\nMLflow: experiment '{tracker.experiment_name}' at {tracker.uri}, study run "
        f"{result.run_id}\n  {tracker.run_url(result.run_id)}  (`hypertune ui` serves it)"
    )


def _compact(params: dict[str, Any], width: int = 70) -> str:
    text = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
    return text if len(text) <= width else text[: width - 3] + "..."


@click.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the best trials to show.",
)
@click.option("-o", "--output", default=None, help="Write the JSON to this file.")
@tracking_options
def best(
    study_name: str, top: int, output: str | None, tracking_uri: str | None, experiment: str
) -> None:
    """Print the best params of STUDY as JSON (values, not indices).

    \b
        hypertune best mlp_space -o params.json
        hypertune best mlp_space --top 3
    """
    from hypertune.record import best_trials
    from hypertune.tracking import Tracker

    tracker = Tracker(tracking_uri, experiment)
    trials = best_trials(tracker, study_name, top=top)
    if top == 1:
        payload: Any = trials[0].params
    else:
        payload = [
            {"trial": t.number, "value": t.value, "run_id": t.run_id, "params": t.params}
            for t in trials
        ]
    text = json.dumps(payload, indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(
            f"Wrote the best params of '{study_name}' (trial {trials[0].number}) to {output}"
        )
    else:
        click.echo(text)


@click.command()
@tracking_options
def studies(tracking_uri: str | None, experiment: str) -> None:
    """List the studies in the experiment: trials, best value, status."""
    from hypertune._table import markdown_table
    from hypertune.record import find_studies, load_trials
    from hypertune.tracking import TAG_STUDY, TAG_TEMPLATE, Tracker

    tracker = Tracker(tracking_uri, experiment)
    rows = []
    for run in find_studies(tracker):
        trials = load_trials(tracker, run.info.run_id)
        finished = [t for t in trials if t.ok]
        best_trial = min(finished, key=lambda t: t.objective) if finished else None
        rows.append(
            (
                run.data.tags.get(TAG_STUDY, "?"),
                run.data.tags.get("hypertune.metric", "?"),
                sum(t.counts for t in trials),
                sum(t.status == "FAILED" for t in trials),
                best_trial.value if best_trial else "-",
                run.info.status,
                run.data.tags.get(TAG_TEMPLATE, "?"),
            )
        )
    if not rows:
        click.echo(f"No studies in experiment '{experiment}' at {tracker.uri}")
        return
    click.echo(
        markdown_table(("study", "metric", "trials", "failed", "best", "status", "template"), rows)
    )
