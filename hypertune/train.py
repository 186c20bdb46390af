"""Train one concrete configuration, evaluate it on the test set, and log it as one MLflow run.

This is ``hypertune train`` (and each model of ``hypertune zoo``)::

    hypertune train templates/relu_adam.py --epochs 20

Everything that can be refused is checked before the run is created: the data, the template and
the params. A run that fails or is interrupted afterwards ends FAILED or KILLED, with the error.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypertune import __version__
from hypertune.data import DataRef, load_split
from hypertune.space import Params
from hypertune.template import Template
from hypertune.tracking import TAG_ROLE, TAG_SHA256, TAG_TEMPLATE, Tracker

#: Receives the 1-based epoch number, the epoch count and that epoch's metrics.
EpochPrinter = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    """What one training run produced, as shown in tables."""

    run_id: str
    template: str
    parameters: int
    epochs: int
    best_val_accuracy: float
    test: dict[str, float]
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    model: Any = None


def train_and_log(
    template: Template,
    params: Params,
    data: DataRef,
    settings: Any,
    tracker: Tracker,
    *,
    on_epoch: EpochPrinter | None = None,
    log_model: bool = True,
    register: str | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Train ``template`` with ``params`` and log the run; ``settings`` is a FitSettings."""
    params = template.space.check(params)
    split = load_split(data) if template.needs_split else None
    if settings.seed is None:
        settings = replace(settings, seed=secrets.randbelow(2**31))
    tracker.experiment_id()

    from hypertune import fitting

    run_id = tracker.start_run(
        template.name,
        {
            TAG_ROLE: "train",
            TAG_TEMPLATE: template.path,
            TAG_SHA256: template.sha256,
            "hypertune.version": __version__,
            **(tags or {}),
        },
    )
    tracker.log_params(
        run_id,
        {
            **template.space.format(params),
            "fit.seed": settings.seed,
            "fit.patience": settings.patience,
            "fit.include_val": settings.include_val,
            "keras.backend": fitting.backend_name(),
            **_data_params(split, settings.include_val),
        },
    )

    def log_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        tracker.log_metrics(run_id, metrics, step=epoch + 1)
        if on_epoch is not None:
            on_epoch(epoch + 1, epochs, metrics)

    status = "FAILED"
    try:
        outcome = fitting.train(template, params, split, settings, on_epoch=log_epoch)
        result = _finish(template, outcome, split, tracker, run_id, log_model, register)
        status = "FINISHED"
        return result
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except Exception as error:
        tracker.set_tags(run_id, {"hypertune.error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        tracker.end_run(run_id, status)


def _finish(
    template: Template,
    outcome: Any,
    split: Any,
    tracker: Tracker,
    run_id: str,
    log_model: bool,
    register: str | None,
) -> TrainResult:
    from hypertune import fitting, plots

    model = outcome.model
    x_test, y_test = fitting.test_set(template, split)
    test = fitting.evaluate(model, x_test, y_test) if model is not None else {}
    described = fitting.describe_model(model) if model is not None else {}
    fit_params = {f"fit.{k}": v for k, v in outcome.fit.items()}
    tracker.log_params(run_id, {**fit_params, **described})
    val_accuracies = [e["val_accuracy"] for e in outcome.history if "val_accuracy" in e]
    best_val = max(val_accuracies) if val_accuracies else float("nan")
    summary = {**test, "seconds": outcome.seconds, "epochs": outcome.epochs}
    if val_accuracies:
        summary["best_val_accuracy"] = best_val
    tracker.log_metrics(run_id, summary)
    if outcome.history:
        figure = plots.learning_curve(outcome.history, f"{template.name} ({run_id[:8]})")
        tracker.log_figure(run_id, figure, "learning_curve.png")
        plots.close(figure)
    if model is not None and (log_model or register):
        _log_keras_model(tracker, run_id, model, x_test[:5], register)
    return TrainResult(
        run_id=run_id,
        template=template.name,
        parameters=int(described.get("model.parameters", 0)),
        epochs=outcome.epochs,
        best_val_accuracy=best_val,
        test=test,
        seconds=outcome.seconds,
        history=outcome.history,
        model=model,
    )


def _data_params(split: Any, include_val: bool) -> dict[str, Any]:
    if split is None:
        return {"data": "the template's data()"}
    return {
        "data": split.source,
        "data.train_size": len(split.x_train) + (len(split.x_val) if include_val else 0),
        "data.val_size": 0 if include_val else len(split.x_val),
    }


def _requirements() -> list[str]:
    """The model's pip requirements: Keras, its backend and numpy, pinned from what is installed
    (MLflow's own inference starts a subprocess and costs seconds per model)."""
    from importlib.metadata import PackageNotFoundError, version

    from hypertune import fitting

    pinned = []
    for package in ("keras", fitting.backend_name(), "numpy"):
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pinned


def _log_keras_model(
    tracker: Tracker, run_id: str, model: Any, example: Any, register: str | None
) -> None:
    """Save with MLflow's Keras flavor under the run's ``model/`` artifacts; maybe register."""
    import mlflow.keras
    from mlflow.models import infer_signature

    from hypertune import fitting

    signature = infer_signature(example, model.predict(example, verbose=0))
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / "model"
        # Keras's saving imports TensorFlow when it is installed, whose C++ notes go to fd 2
        with fitting.muted_stderr():
            mlflow.keras.save_model(
                model, str(local), signature=signature, pip_requirements=_requirements()
            )
        tracker.log_artifacts(run_id, local, "model")
    if register:
        tracker.register_model(register, run_id, "model")
