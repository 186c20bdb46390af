"""A study as MLflow records it, read back: the parent run, its trials, the best params.

MLflow is the only record of a study. A study is a run tagged ``hypertune.role = study``; each
trial is a child run (``mlflow.parentRunId``) tagged with its number and its params as JSON, so
params come back with their types (``512``, not ``'512'``) without the template at hand.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from hypertune.errors import ParamsError, StudyNotFoundError
from hypertune.space import Params, SearchSpace
from hypertune.tracking import TAG_PARENT, TAG_ROLE, TAG_STUDY, TAG_TRIAL, Tracker
from hypertune.trial import TAG_ERROR, TAG_PARAMS, TrialRecord

if TYPE_CHECKING:
    from mlflow.entities import Run

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_study_name(name: str) -> str:
    if not STUDY_NAME.match(name):
        from hypertune.errors import BadInputError

        raise BadInputError(
            f"study name {name!r} may hold only letters, digits and _ . - (and starts with a "
            "letter or digit)"
        )
    return name


def find_studies(tracker: Tracker, name: str | None = None) -> list[Run]:
    """Parent runs of studies, oldest first; only those named ``name`` when given."""
    query = f"tags.`{TAG_ROLE}` = 'study'"
    if name is not None:
        query += f" and tags.`{TAG_STUDY}` = '{check_study_name(name)}'"
    return tracker.search(query, order_by=["attributes.start_time ASC"])


def require_study(tracker: Tracker, name: str) -> Run:
    """The parent run of study ``name``, or a StudyNotFoundError naming the studies there are."""
    found = find_studies(tracker, name)
    if found:
        return found[0]
    known = sorted({r.data.tags.get(TAG_STUDY, "") for r in find_studies(tracker)} - {""})
    listing = f"studies there: {', '.join(known)}" if known else "it holds no studies yet"
    raise StudyNotFoundError(
        f"no study named '{name}' in experiment '{tracker.experiment_name}' at {tracker.uri} "
        f"({listing}); check --experiment and --tracking-uri"
    )


def load_trials(tracker: Tracker, parent_run_id: str) -> list[TrialRecord]:
    """Every trial run of a study, in trial-number order."""
    runs = tracker.search(f"tags.`{TAG_PARENT}` = '{parent_run_id}'")
    trials = [_trial(run) for run in runs if TAG_TRIAL in run.data.tags]
    return sorted(trials, key=lambda t: t.number)


def best_trials(
    tracker: Tracker, study: str, space: SearchSpace | None = None, top: int = 1
) -> list[TrialRecord]:
    """The ``top`` finished trials with the lowest objective; params checked against ``space``."""
    parent = require_study(tracker, study)
    finished = [t for t in load_trials(tracker, parent.info.run_id) if t.ok]
    if not finished:
        raise StudyNotFoundError(f"study '{study}' has no finished trial yet")
    ranked = sorted(finished, key=lambda t: (t.objective, t.number))[:top]
    if space is not None:
        for trial in ranked:
            try:
                trial.params = space.check(trial.params)
            except ParamsError as error:
                raise ParamsError(
                    f"the params of study '{study}' (trial {trial.number}) do not fit this "
                    f"template: {error}; was the template edited since the study ran?"
                ) from None
    return ranked


def run_params(tracker: Tracker, run_id: str, space: SearchSpace) -> Params:
    """The params of one run: a trial's JSON tag, or any run's params read through ``space``."""
    from mlflow.exceptions import MlflowException

    try:
        run = tracker.client.get_run(run_id)
    except MlflowException:
        raise StudyNotFoundError(
            f"no run with id {run_id} at {tracker.uri}; copy the id from `hypertune best` or "
            "the MLflow UI"
        ) from None
    if TAG_PARAMS in run.data.tags:
        return space.check(json.loads(run.data.tags[TAG_PARAMS]))
    return space.parse_strings(run.data.params)


def _trial(run: Run) -> TrialRecord:
    metrics = run.data.metrics
    tags = run.data.tags
    try:
        params: Any = json.loads(tags.get(TAG_PARAMS, "{}"))
    except json.JSONDecodeError:
        params = {}
    return TrialRecord(
        number=int(tags[TAG_TRIAL]),
        params=params if isinstance(params, dict) else {},
        run_id=run.info.run_id,
        status=run.info.status,
        value=metrics.get("value", math.nan),
        objective=metrics.get("objective", math.nan),
        epochs=int(metrics.get("epochs", 0)),
        seconds=metrics.get("seconds", math.nan),
        error=tags.get(TAG_ERROR, ""),
    )
