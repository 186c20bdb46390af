"""Train one configuration of a template with Keras: the only module that imports TensorFlow.

A build-style template returns a compiled model and hypertune fits it on the training split,
watching the validation split. A Hyperas-style template fits the model itself; hypertune wires
its callbacks into the template's ``.fit(...)`` call so every epoch is still seen. Either way,
each finished epoch goes through one place, the ``on_epoch`` function given to
:func:`train`, which logs it, prints it, or (later) prunes the trial.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hypertune.backend import select_backend


@contextlib.contextmanager
def muted_stderr() -> Iterator[None]:
    """Mute file descriptor 2: TensorFlow's C++ start-up notes bypass Python's logging."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
select_backend()
with muted_stderr():
    import keras

from hypertune.data import Split  # noqa: E402
from hypertune.errors import BadInputError  # noqa: E402
from hypertune.settings import FitSettings  # noqa: E402
from hypertune.space import Params  # noqa: E402
from hypertune.template import Template  # noqa: E402

#: Receives the 0-based epoch number, the number of epochs asked for, and that epoch's metrics
#: (with its wall time as ``epoch_seconds``).
EpochHandler = Callable[[int, int, dict[str, float]], None]

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")

#: Training steps per call into the backend when a template leaves Keras's default of 1. The
#: steps and their results are the same; the model's state goes back and forth between Python
#: and the compiled step once per 8 batches instead of every batch. With the validation batch
#: below, this took an epoch of a 784-512-512-10 MLP on 2 busy cores from 1.66 s to 1.39 s
#: (one process, taking turns); on a quiet machine the two were equal (``bench/epoch.py``).
STEPS_PER_EXECUTION = 8

#: The smallest batch used for validation. Validation has no gradients and no batch statistics
#: (dropout is off, batch normalization uses its moving averages), so the batch size changes
#: only the order of a sum; 79 calls of 128 images cost more than 10 of 1,024.
VALIDATION_BATCH_SIZE = 1024


def evaluation_batch_size(images: int, batch_size: int = 0) -> int:
    """A batch of at least :data:`VALIDATION_BATCH_SIZE` (and ``batch_size``) images that
    divides ``images`` when one up to twice that size does.

    A last, smaller batch is a new shape, which JAX compiles anew: 0.3 s of every trial on 2
    cores. 10,000 validation images go in batches of 1,250.
    """
    smallest = max(batch_size, VALIDATION_BATCH_SIZE)
    for size in range(smallest, 2 * smallest + 1):
        if images % size == 0:
            return size
    return smallest


class TrialFailed(Exception):
    """A configuration that trained into NaN or infinity, or could not train at all."""


@dataclass
class Outcome:
    """A trained configuration: the model, its epochs, and the value of the objective."""

    model: Any
    history: list[dict[str, float]]
    value: float
    loss: float
    epochs: int
    batch_size: int | None
    seconds: float
    fit: dict[str, Any] = field(default_factory=dict)
    #: Where the time went: ``build_seconds`` (template and model), ``fit_seconds``.
    timings: dict[str, float] = field(default_factory=dict)


class EpochReporter(keras.callbacks.Callback):  # type: ignore[misc]
    """Sends each finished epoch's metrics, and its wall time, to one handler, and stops
    training after an epoch whose loss is NaN or infinite.

    It looks at epochs only, never at batches: a callback with a batch hook (Keras's own
    ``TerminateOnNaN`` among them) makes Keras wait for every batch to finish before the next
    starts, which cost a few percent of an epoch on 2 cores. A diverging trial runs to the end
    of its epoch, then fails.
    """

    def __init__(self, handler: EpochHandler | None, history: list[dict[str, float]]):
        super().__init__()
        self.handler = handler
        self.history = history
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        metrics["epoch_seconds"] = time.perf_counter() - self.started
        self.history.append(metrics)
        if any(not math.isfinite(v) for k, v in metrics.items() if k in METRICS):
            self.model.stop_training = True
        if self.handler is not None:
            self.handler(epoch, int(self.params.get("epochs") or 0), metrics)


class FitHooks:
    """Wired into a Hyperas-style template's ``.fit(...)`` calls by the renderer."""

    def __init__(self, reporter: EpochReporter, verbose: bool):
        self.reporter = reporter
        self.quiet = not verbose

    def callbacks(self, given: Any) -> list[Any]:
        return [*(given or []), self.reporter]

    def verbose(self, given: Any) -> Any:
        return 0 if self.quiet else ("auto" if given is None else given)


def train(
    template: Template,
    params: Params,
    split: Split | None,
    settings: FitSettings,
    on_epoch: EpochHandler | None = None,
) -> Outcome:
    """Build and train one configuration; raise TrialFailed for NaN/inf or bad returns.

    ``split`` may be None only for templates whose ``data()`` gives their own data.
    """
    if settings.seed is not None:
        seed_everything(settings.seed)
    history: list[dict[str, float]] = []
    reporter = EpochReporter(on_epoch, history)
    started = time.perf_counter()
    namespace = template.load(params, FitHooks(reporter, settings.verbose))
    model_function = namespace[template.function]

    if template.takes_data:
        outcome = _train_hyperas(template, namespace, model_function, split, history)
    else:
        assert split is not None, "a build-style template is trained on hypertune's split"
        model = model_function()
        built = time.perf_counter()
        outcome = _fit_built(template, namespace, model, split, settings, reporter)
        outcome.timings["build_seconds"] = built - started
        outcome.timings["fit_seconds"] = time.perf_counter() - built
    outcome.seconds = time.perf_counter() - started
    _check_finite(outcome)
    return outcome


def _fit_built(
    template: Template,
    namespace: dict[str, Any],
    model: Any,
    split: Split,
    settings: FitSettings,
    reporter: EpochReporter,
) -> Outcome:
    if isinstance(model, dict):
        return _hyperas_outcome(template, model, reporter.history)
    if not isinstance(model, keras.Model):
        raise BadInputError(
            f"{template.path}: {template.function}() returned {type(model).__name__}; it must "
            "return a compiled keras.Model"
        )
    if not model.compiled:
        raise BadInputError(
            f"{template.path}: {template.function}() returned a model that is not compiled; "
            "call model.compile(optimizer=..., loss=..., metrics=['accuracy']) before returning"
        )
    epochs = int(namespace.get("epochs", settings.epochs))
    batch_size = int(namespace.get("batch_size", settings.batch_size))
    callbacks: list[Any] = [reporter]
    if settings.include_val:
        x = np.concatenate([split.x_train, split.x_val])
        y = np.concatenate([split.y_train, split.y_val])
        validation = None
    else:
        x, y = split.x_train, split.y_train
        validation = (split.x_val, split.y_val)
        if settings.patience is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor=settings.metric, patience=settings.patience, restore_best_weights=True
                )
            )
    if model.steps_per_execution == 1:
        model.steps_per_execution = STEPS_PER_EXECUTION
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation,
        validation_batch_size=evaluation_batch_size(len(split.x_val), batch_size),
        callbacks=callbacks,
        verbose=0,
    )
    value = _objective_value(reporter.history, settings)
    loss = -value if settings.metric == "val_accuracy" else value
    return Outcome(
        model=model,
        history=reporter.history,
        value=value,
        loss=loss,
        epochs=len(reporter.history),
        batch_size=batch_size,
        seconds=0.0,
        fit={"epochs": epochs, "batch_size": batch_size},
    )


def _objective_value(history: list[dict[str, float]], settings: FitSettings) -> float:
    """The validation metric of the weights the model ends with."""
    metric = "loss" if settings.include_val else settings.metric
    values = [epoch[metric] for epoch in history if metric in epoch]
    if not values:
        raise TrialFailed(f"training logged no '{metric}'; did the model compile with metrics?")
    if settings.patience is None or settings.include_val:
        return values[-1]
    return min(values) if metric.endswith("loss") else max(values)


def _train_hyperas(
    template: Template,
    namespace: dict[str, Any],
    model_function: Callable[..., Any],
    split: Split | None,
    history: list[dict[str, float]],
) -> Outcome:
    if template.has_data_function:
        data = hyperas_data(template, namespace)
    else:
        assert split is not None, "a model function without data() gets hypertune's split"
        data = (split.x_train, split.y_train, split.x_val, split.y_val)
    result = model_function(*data)
    if not isinstance(result, dict):
        raise BadInputError(
            f"{template.path}: {template.function}() returned {type(result).__name__}; a "
            "Hyperas-style model function returns {'loss': ..., 'status': STATUS_OK, 'model': ...}"
        )
    return _hyperas_outcome(template, result, history)


def _hyperas_outcome(
    template: Template, result: dict[str, Any], history: list[dict[str, float]]
) -> Outcome:
    if "loss" not in result:
        raise BadInputError(
            f"{template.path}: {template.function}() returned a dict without 'loss'; return "
            "{'loss': value_to_minimize, 'status': STATUS_OK, 'model': model}"
        )
    status = result.get("status", "ok")
    if status != "ok":
        raise TrialFailed(f"the template reported status {status!r}")
    loss = float(result["loss"])
    return Outcome(
        model=result.get("model"),
        history=history,
        value=loss,
        loss=loss,
        epochs=len(history),
        batch_size=None,
        seconds=0.0,
    )


_DATA_CACHE: dict[str, tuple[Any, ...]] = {}


def hyperas_data(template: Template, namespace: dict[str, Any]) -> tuple[Any, ...]:
    """Call the template's ``data()`` once per process and template source."""
    if template.sha256 not in _DATA_CACHE:
        returned = namespace["data"]()
        _DATA_CACHE.clear()
        _DATA_CACHE[template.sha256] = (
            tuple(returned) if isinstance(returned, (tuple, list)) else (returned,)
        )
    return _DATA_CACHE[template.sha256]


def _check_finite(outcome: Outcome) -> None:
    for epoch, metrics in enumerate(outcome.history):
        for name, value in metrics.items():
            if name in METRICS and not math.isfinite(value):
                raise TrialFailed(f"{name} became {value} at epoch {epoch + 1}")
    if not math.isfinite(outcome.loss):
        raise TrialFailed(f"the objective is {outcome.loss}")


def test_set(template: Template, split: Split | None) -> tuple[Any, Any]:
    """hypertune's test split, or the test arrays of the template's own ``data()``."""
    if split is not None:
        return split.x_test, split.y_test
    data = _DATA_CACHE[template.sha256]
    return data[2], data[3]


def evaluate(model: Any, x_test: Any, y_test: Any) -> dict[str, float]:
    """Test-set loss and accuracy of a trained model."""
    results = model.evaluate(
        x_test,
        y_test,
        batch_size=evaluation_batch_size(len(x_test)),
        verbose=0,
        return_dict=True,
    )
    return {f"test_{k}": float(v) for k, v in results.items() if _is_number(v)}


def describe_model(model: Any) -> dict[str, str]:
    """What a fixed template chose: optimizer, learning rate, initializer, size."""
    described = {"model.parameters": str(model.count_params())}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        described["model.optimizer"] = type(optimizer).__name__
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            # the rate the template set, not where the schedule has taken it by now
            config = schedule.get_config()
            rate = config.pop("initial_learning_rate", None)
            described["model.learning_rate_schedule"] = f"{type(schedule).__name__}" + (
                "(" + ", ".join(f"{k}={v}" for k, v in config.items() if k != "name") + ")"
            )
        else:
            rate = getattr(optimizer, "learning_rate", None)
        if rate is not None:
            with contextlib.suppress(TypeError, ValueError):
                described["model.learning_rate"] = f"{float(keras.ops.convert_to_numpy(rate)):g}"
    initializers = []
    for layer in model.layers:
        initializer = getattr(layer, "kernel_initializer", None)
        if initializer is not None:
            config = initializer.get_config()
            details = ", ".join(
                f"{k}={v}" for k, v in config.items() if v is not None and k != "seed"
            )
            initializers.append(f"{type(initializer).__name__}({details})")
    if initializers:
        described["model.initializer"] = ", ".join(dict.fromkeys(initializers))
    described["model.layers"] = " > ".join(type(layer).__name__ for layer in model.layers)[:500]
    return described


def seed_everything(seed: int) -> None:
    """``keras.utils.set_random_seed`` without importing TensorFlow on other backends.

    Keras seeds TensorFlow whenever it is installed, which imports it (about 5 s and 460 MiB)
    even when training on JAX; the JAX and torch backends draw from Keras's own seed generator.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    import random

    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def backend_name() -> str:
    """The Keras backend this process trains on."""
    name: str = keras.backend.backend()
    return name


def clear() -> None:
    """Free the Keras graph state of the last trial."""
    keras.backend.clear_session()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
