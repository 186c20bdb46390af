"""``hypertune train`` and ``hypertune zoo``: one model, or the seven classic ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hypertune._logging import get_logger
from hypertune.cli._options import (
    data_options,
    fit_options,
    function_option,
    load_template,
    print_epoch,
    tracking_options,
)
from hypertune.errors import BadInputError, ParamsError

_log = get_logger(__name__)


@click.command()
@click.argument("template_path", metavar="TEMPLATE")
@fit_options
@click.option(
    "--params",
    "params_file",
    type=str,
    default=None,
    help="A JSON file of hyperparameter values (as written by `hypertune best -o`).",
)
@click.option("--from-study", default=None, help="Use the best params of this study.")
@click.option("--from-run", default=None, help="Use the params of this MLflow trial run.")
@click.option(
    "--include-val",
    is_flag=True,
    help="Train on training + validation data (no validation, no early stopping).",
)
@click.option("--register", default=None, help="Register the model under this name.")
@click.option("--no-log-model", is_flag=True, help="Do not save the model to MLflow.")
@data_options
@tracking_options
@function_option
def train(
    template_path: str,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    params_file: str | None,
    from_study: str | None,
    from_run: str | None,
    include_val: bool,
    register: str | None,
    no_log_model: bool,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
    model_function: str | None,
) -> None:
    """Train one model from TEMPLATE, print each epoch and the test accuracy, log it to MLflow.

    \b
        hypertune train templates/relu_adam.py --epochs 20
        hypertune train templates/mlp_space.py --from-study mlp_space --include-val
    """
    from hypertune.data import DataRef
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker
    from hypertune.train import train_and_log

    template = load_template(template_path, model_function)
    tracker = Tracker(tracking_uri, experiment)
    sources = [s for s in (params_file, from_study, from_run) if s]
    if len(sources) > 1:
        raise BadInputError("give at most one of --params, --from-study and --from-run")
    params, origin = _chosen_params(template, tracker, params_file, from_study, from_run)
    if template.space and not sources:
        raise ParamsError(
            f"{template.path} has {len(template.space)} hyperparameters "
            f"({', '.join(template.space.names[:4])}{', ...' if len(template.space) > 4 else ''});"
            " give their values with --params FILE, --from-study NAME or --from-run ID, or "
            "search them with `hypertune tune`"
        )
    data = DataRef.resolve(data_path, val_size)
    settings = FitSettings(
        epochs=epochs, batch_size=batch_size, patience=patience, seed=seed, include_val=include_val
    )
    if params:
        click.echo(f"Params ({origin}): {json.dumps(params)}")
    result = train_and_log(
        template,
        params,
        data,
        settings,
        tracker,
        on_epoch=print_epoch,
        log_model=not no_log_model,
        register=register,
        tags={"hypertune.params_from": origin} if origin else None,
    )
    test = result.test
    if "test_accuracy" in test:
        click.echo(
            f"Test accuracy: {test['test_accuracy']:.4f}  (test loss "
            f"{test.get('test_loss', float('nan')):.4f}, {result.seconds:.1f}s)"
        )
    click.echo(f"MLflow run {result.run_id} in experiment '{experiment}' at {tracker.uri}")
    if register:
        click.echo(f"Registered model '{register}'")


def _chosen_params(
    template: Any,
    tracker: Any,
    params_file: str | None,
    from_study: str | None,
    from_run: str | None,
) -> tuple[dict[str, Any], str]:
    if params_file:
        return read_params_file(params_file, template.space), params_file
    if from_study:
        from hypertune.record import best_trials

        best = best_trials(tracker, from_study, template.space, top=1)
        return best[0].params, f"study {from_study}, trial {best[0].number}"
    if from_run:
        from hypertune.record import run_params

        return run_params(tracker, from_run, template.space), f"run {from_run}"
    return {}, ""


def read_params_file(path: str, space: Any) -> dict[str, Any]:
    """Read and check a params JSON file: ``{"name": value, ...}``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"no params file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParamsError(f"cannot read the params file {path}: {error}") from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParamsError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            'write an object like {"Dense_1.units": 512}'
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("params"), dict):
        loaded = loaded["params"]
    if not isinstance(loaded, dict):
        raise ParamsError(
            f"{path} holds a JSON {type(loaded).__name__}; write an object of name: value pairs"
        )
    try:
        checked: dict[str, Any] = space.check(loaded)
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
    return checked


@click.command()
@click.option(
    "--templates",
    "templates_dir",
    default=None,
    help="Folder of the seven templates (default: ./templates).",
)
@fit_options
@click.option("--no-log-model", is_flag=True, help="Do not save the models to MLflow.")
@data_options
@tracking_options
def zoo(
    templates_dir: str | None,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    no_log_model: bool,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Train the seven classic MNIST MLPs and print one table.

    \b
        hypertune zoo --epochs 20
    """
    from hypertune._table import markdown_table
    from hypertune.data import DataRef
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker
    from hypertune.train import train_and_log
    from hypertune.zoo import HEADERS, MODELS, templates_folder

    folder = templates_folder(templates_dir)
    templates = [(load_template(str(folder / name), None), label) for name, label in MODELS]
    data = DataRef.resolve(data_path, val_size)
    tracker = Tracker(tracking_uri, experiment)
    settings = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, seed=seed)
    rows = []
    for template, label in templates:
        _log.info("training %s (%s)", template.name, label)
        result = train_and_log(
            template,
            {},
            data,
            settings,
            tracker,
            log_model=not no_log_model,
            tags={"hypertune.zoo": "true"},
        )
        rows.append(
            (
                label,
                template.name,
                result.parameters,
                result.epochs,
                result.best_val_accuracy,
                result.test.get("test_accuracy", float("nan")),
                f"{result.seconds:.1f}",
            )
        )
        _log.info("  test accuracy %.4f in %.1fs", rows[-1][5], result.seconds)
    click.echo(markdown_table(HEADERS, rows))
    click.echo(f"\nRuns in experiment '{experiment}' at {tracker.uri}")
