"""Options the commands share, and the steps every command that reads a template takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hypertune._logging import get_logger

F = TypeVar("F", bound=Callable[..., Any])
_log = get_logger(__name__)


def data_options(function: F) -> F:
    function = click.option(
        "--val-size",
        type=click.IntRange(min=1),
        default=10_000,
        show_default=True,
        help="Images held out of the end of the training set for validation.",
    )(function)
    return click.option(
        "--data",
        "data_path",
        type=str,
        default=None,
        help="An .npz (x_train, y_train, x_test, y_test) or a folder of MNIST IDX files. "
        "Defaults to $HYPERTUNE_DATA, then Keras's cached download.",
    )(function)


def tracking_options(function: F) -> F:
    function = click.option(
        "--experiment", default="hypertune", show_default=True, help="MLflow experiment name."
    )(function)
    return click.option(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI. Defaults to $MLFLOW_TRACKING_URI, then sqlite:///mlflow.db.",
    )(function)


def fit_options(function: F) -> F:
    function = click.option(
        "--seed", type=int, default=None, help="Random seed (a random one is drawn and logged)."
    )(function)
    function = click.option(
        "--patience",
        type=click.IntRange(min=0),
        default=None,
        help="Stop after this many epochs without improvement, keeping the best weights.",
    )(function)
    function = click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=128,
        show_default=True,
        help="Batch size, unless the template sets batch_size itself.",
    )(function)
    return click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="Epochs, unless the template sets epochs itself.",
    )(function)


def search_options(function: F) -> F:
    """The objective and the algorithms' own settings (hyperopt's defaults)."""
    options = [
        click.option(
            "--metric",
            type=click.Choice(["val_loss", "val_accuracy"]),
            default="val_loss",
            show_default=True,
            help="The validation metric to optimize.",
        ),
        click.option(
            "--n-startup-jobs",
            type=click.IntRange(min=0),
            default=20,
            show_default=True,
            help="TPE: random trials before modelling starts.",
        ),
        click.option(
            "--gamma",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.25,
            show_default=True,
            help="TPE: share of trials counted as good.",
        ),
        click.option(
            "--n-ei-candidates",
            type=click.IntRange(min=1),
            default=24,
            show_default=True,
            help="TPE: candidates drawn per suggestion.",
        ),
        click.option(
            "--grid-points",
            type=click.IntRange(min=2),
            default=None,
            help="grid: values taken from each continuous marker's range.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def function_option(function: F) -> F:
    return click.option(
        "--function",
        "model_function",
        default=None,
        help="The model function's name (default: create_model, then model).",
    )(function)


def load_template(path: str, model_function: str | None) -> Any:
    from hypertune.template import compile_template

    template = compile_template(path, model_function)
    for warning in template.warnings:
        _log.warning("warning: %s", warning)
    return template


def print_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
    names = (
        ("loss", "loss"),
        ("accuracy", "acc"),
        ("val_loss", "val_loss"),
        ("val_accuracy", "val_acc"),
    )
    parts = [f"{short} {metrics[key]:.4f}" for key, short in names if key in metrics]
    width = len(str(epochs))
    click.echo(
        f"Epoch {epoch:>{width}}/{epochs}  "
        + "  ".join(parts)
        + f"  {metrics.get('epoch_seconds', 0.0):.1f}s"
    )
