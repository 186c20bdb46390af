"""One trial: a self-contained unit of work that trains one configuration as an MLflow child run.

A :class:`TrialSpec` holds everything a trial needs (the compiled template, its params, where the
data is, the fit settings, the tracking store and the parent run); it pickles, so a trial can run
in another process. :func:`run_trial` returns a :class:`TrialRecord` and never raises for a
failing configuration: the child run ends FAILED with the error instead. Only an interrupt
(Ctrl-C, SIGTERM) propagates, after marking the child run KILLED.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypertune.data import DataRef, load_split
from hypertune.errors import BadInputError, TrackingError
from hypertune.settings import FitSettings
from hypertune.space import Params
from hypertune.template import Template
from hypertune.tracking import TAG_ROLE, TAG_STUDY, TAG_TRIAL, Tracker

TAG_PARAMS = "hypertune.params"
TAG_ERROR = "hypertune.error"

#: Receives the trial number, the 0-based epoch, the epochs asked for and that epoch's metrics.
EpochListener = Callable[[int, int, int, dict[str, float]], None]


class TrialNotRecorded(TrackingError):
    """The tracking store failed during a trial: its result is in ``trial``, not in MLflow."""

    def __init__(self, trial: TrialRecord, cause: TrackingError):
        self.trial = trial
        reached = f", after reaching value {trial.value:.4f}" if math.isfinite(trial.value) else ""
        super().__init__(f"trial {trial.number} could not be recorded{reached}: {cause}")


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs, shippable to another process."""

    template: Template
    params: Params
    number: int
    study: str
    data: DataRef
    fit: FitSettings
    tracking_uri: str
    experiment: str
    parent_run_id: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class TrialRecord:
    """One trial as run or as read back from MLflow.

    ``status`` is MLflow's run status; FINISHED and FAILED trials count towards a study's budget,
    a KILLED one (interrupted) does not. ``objective`` is what the search minimizes (``value``,
    or minus ``value`` for accuracies).
    """

    number: int
    params: Params
    status: str = "FAILED"
    value: float = math.nan
    objective: float = math.nan
    epochs: int = 0
    seconds: float = math.nan
    run_id: str = ""
    error: str = ""
    fatal: bool = False
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def counts(self) -> bool:
        return self.status in ("FINISHED", "FAILED")

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED" and math.isfinite(self.objective)

    def to_hyperopt(self) -> dict[str, Any]:
        """The result dict hyperopt keeps for this trial."""
        if self.ok:
            return {"status": "ok", "loss": self.objective}
        return {"status": "fail", "error": self.error}


def run_trial(
    spec: TrialSpec, on_epoch: EpochListener | None = None, tracker: Tracker | None = None
) -> TrialRecord:
    """Train ``spec``'s configuration as a child run of the study; see the module docstring.

    ``tracker`` lets a study in the same process share its client; elsewhere one is made.
    """
    from hypertune import fitting

    tracker = tracker or _tracker(spec.tracking_uri, spec.experiment)
    split = load_split(spec.data) if spec.template.needs_split else None
    result = TrialRecord(spec.number, spec.params)
    try:
        result.run_id = tracker.start_run(
            f"{spec.study}-trial-{spec.number:04d}",
            {
                TAG_ROLE: "trial",
                TAG_STUDY: spec.study,
                TAG_TRIAL: str(spec.number),
                TAG_PARAMS: json.dumps(spec.params),
                **spec.tags,
            },
            parent_id=spec.parent_run_id,
        )
        tracker.log_params(
            result.run_id,
            {
                **spec.template.space.format(spec.params),
                "fit.seed": spec.fit.seed,
                "fit.patience": spec.fit.patience,
                "keras.backend": fitting.backend_name(),
            },
        )
    except TrackingError as error:
        raise TrialNotRecorded(result, error) from error
    run_id = result.run_id

    def report(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        tracker.log_metrics(run_id, metrics, step=epoch + 1)
        if on_epoch is not None:
            on_epoch(spec.number, epoch, epochs, metrics)

    started = time.perf_counter()
    status = "FAILED"
    try:
        try:
            fit, timings = _train(spec, split, report, result)
            result.seconds = time.perf_counter() - started
            _log_outcome(tracker, run_id, result, fit, timings)
            status = "FINISHED"
        except Exception as error:
            if isinstance(error, TrackingError):
                raise
            result.error = _describe(error)
            result.fatal = isinstance(error, BadInputError)
            result.seconds = time.perf_counter() - started
            tracker.set_tags(run_id, {TAG_ERROR: result.error[:8000]})
            tracker.log_metrics(run_id, {"seconds": result.seconds, "epochs": result.epochs})
        tracker.end_run(run_id, status)
    except KeyboardInterrupt:
        tracker.end_run(run_id, "KILLED")
        raise
    except TrackingError as error:
        raise TrialNotRecorded(result, error) from error
    finally:
        fitting.clear()
    result.status = status
    return result


def _train(
    spec: TrialSpec,
    split: Any,
    report: Callable[[int, int, dict[str, float]], None],
    result: TrialRecord,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Train into ``result``; return the fit arguments and timings, not the model, so that the
    model is garbage when this returns and the end-of-trial collection frees it."""
    from hypertune import fitting

    outcome = fitting.train(spec.template, spec.params, split, spec.fit, on_epoch=report)
    result.value, result.objective = outcome.value, outcome.loss
    result.epochs, result.history = outcome.epochs, outcome.history
    return outcome.fit, outcome.timings


def _log_outcome(
    tracker: Tracker,
    run_id: str,
    result: TrialRecord,
    fit: dict[str, Any],
    timings: dict[str, float],
) -> None:
    tracker.log(
        run_id,
        params={f"fit.{k}": v for k, v in fit.items()},
        metrics={
            "value": result.value,
            "objective": result.objective,
            "epochs": result.epochs,
            "seconds": result.seconds,
            **timings,
        },
    )


def _describe(error: BaseException) -> str:
    """One line for tables, then the traceback's last frames for the run's error tag."""
    from hypertune import fitting

    if isinstance(error, (fitting.TrialFailed, BadInputError)):
        return str(error)
    if _out_of_memory(error):
        return f"out of memory: {error}".splitlines()[0]
    frames = "".join(traceback.format_exception(error)[-6:])
    return f"{type(error).__name__}: {error}".splitlines()[0] + "\n" + frames


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"


_TRACKERS: dict[tuple[str, str], Tracker] = {}


def _tracker(uri: str, experiment: str) -> Tracker:
    """One tracker per process and store, so a study's trials share one client."""
    key = (uri, experiment)
    if key not in _TRACKERS:
        _TRACKERS[key] = Tracker(uri, experiment)
    return _TRACKERS[key]
