"""A study: a search over a template's space whose record is a parent run in MLflow.

    hypertune tune templates/mlp_space.py --max-evals 50 --study mlp

Running the same study again resumes it: its finished trials are read back from MLflow into the
search history, runs left RUNNING by a dead process are marked KILLED, and trials run until
``max_evals`` are recorded in total. Each proposal is seeded from the study seed and the trial
number, so a resumed study never replays the start-up points it already tried. One process at a
time runs a study (see :mod:`hypertune.lease`).
"""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from hypertune import __version__
from hypertune._logging import get_logger
from hypertune.data import DataRef, load_split
from hypertune.errors import BadInputError, TrackingError
from hypertune.lease import Lease
from hypertune.record import check_study_name, find_studies, load_trials
from hypertune.search import Search, SearchResult, SearchSettings
from hypertune.searchers import ALGORITHMS
from hypertune.settings import FitSettings
from hypertune.template import Template
from hypertune.tracking import TAG_ROLE, TAG_SHA256, TAG_STUDY, TAG_TEMPLATE, Tracker

_log = get_logger(__name__)

METRICS = ("val_loss", "val_accuracy")


def run_study(
    template: Template,
    settings: SearchSettings,
    fit: FitSettings,
    data: DataRef,
    tracker: Tracker,
) -> SearchResult:
    """Run (or resume) a study until ``settings.max_evals`` trials are recorded."""
    check_settings(template, settings)
    if template.needs_split:
        load_split(data)
    tracker.experiment_id()
    parent_id, seed = _open_parent(template, settings, fit, data, tracker)
    settings = replace(settings, seed=seed)
    with Lease(tracker, parent_id, settings.name), _terminate_as_interrupt():
        tracker.client.update_run(parent_id, status="RUNNING")
        search = Search(template, settings, fit, data, tracker, parent_id)
        _restore(search, tracker, parent_id)
        status: str | None = "FAILED"
        try:
            result = search.run()
            status = "FINISHED" if result.best is not None else "FAILED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        except TrackingError:
            status = None  # the store is failing: write nothing more to it
            raise
        finally:
            if status is not None:
                _close(search, status)
        return result


def check_settings(template: Template, settings: SearchSettings) -> None:
    """Refuse settings that cannot run, before anything is recorded."""
    check_study_name(settings.name)
    if not template.space:
        raise BadInputError(
            f"{template.path} has no markers, so there is nothing to tune; train it with "
            "`hypertune train`, or mark a choice like {{choice([256, 512])}}"
        )
    if settings.algo not in ALGORITHMS:
        raise BadInputError(
            f"unknown algorithm '{settings.algo}'; use one of: {', '.join(ALGORITHMS)}"
        )
    if settings.metric not in METRICS:
        raise BadInputError(f"unknown metric '{settings.metric}'; use one of {METRICS}")
    if settings.max_evals is None and settings.algo != "grid":
        raise BadInputError(f"--algo {settings.algo} needs --max-evals N")
    if settings.max_evals is not None and settings.max_evals < 1:
        raise BadInputError(f"--max-evals must be at least 1, but got {settings.max_evals}")
    if settings.algo == "grid":
        from hypertune.searchers import grid_branches

        grid_branches(template.space, settings.grid_points)


def _open_parent(
    template: Template,
    settings: SearchSettings,
    fit: FitSettings,
    data: DataRef,
    tracker: Tracker,
) -> tuple[str, int]:
    """Find the study's parent run, or create it; return its id and the study seed."""
    existing = find_studies(tracker, settings.name)
    if existing:
        return _resume_parent(existing[0], template, settings, tracker)

    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    parent_id = tracker.start_run(
        settings.name,
        {
            TAG_ROLE: "study",
            TAG_STUDY: settings.name,
            TAG_TEMPLATE: template.path,
            TAG_SHA256: template.sha256,
            "hypertune.version": __version__,
            "hypertune.algo": settings.algo,
            "hypertune.seed": str(seed),
            "hypertune.metric": settings.metric,
        },
    )
    tracker.log_params(
        parent_id,
        {
            "algo": settings.algo,
            "seed": seed,
            "metric": settings.metric,
            "fit.epochs": fit.epochs,
            "fit.batch_size": fit.batch_size,
            "fit.patience": fit.patience,
            "data": data.describe(),
            "data.val_size": data.val_size,
            **_algo_params(settings),
            "grid_points": settings.grid_points,
        },
    )
    _log_template(tracker, parent_id, template)
    winner = find_studies(tracker, settings.name)[0]
    if winner.info.run_id != parent_id:  # another process created the same study just now
        tracker.client.delete_run(parent_id)
        return _resume_parent(winner, template, settings, tracker)
    return parent_id, seed


def _resume_parent(
    parent: Any, template: Template, settings: SearchSettings, tracker: Tracker
) -> tuple[str, int]:
    tags = parent.data.tags
    if tags.get(TAG_SHA256) != template.sha256:
        if not settings.force:
            raise BadInputError(
                f"study '{settings.name}' was run with another version of the template "
                f"({tags.get(TAG_TEMPLATE, '?')}, sha256 {tags.get(TAG_SHA256, '?')[:12]}); "
                "start a new --study, or pass --force to go on with this one"
            )
        _log.warning(
            "study '%s': the template changed; going on because of --force", settings.name
        )
        tracker.set_tags(parent.info.run_id, {TAG_SHA256: template.sha256})
    metric = tags.get("hypertune.metric", "val_loss")
    if metric != settings.metric:
        raise BadInputError(
            f"study '{settings.name}' optimizes {metric}; resume it with --metric {metric} or "
            "start a new --study"
        )
    if "space.json" not in tracker.artifact_names(parent.info.run_id):
        _log_template(tracker, parent.info.run_id, template)  # a start cut short
    seed = int(tags.get("hypertune.seed", "0"))
    if settings.seed is not None and settings.seed != seed:
        _log.warning(
            "study '%s' keeps its seed %d (--seed %d ignored on resume)",
            settings.name,
            seed,
            settings.seed,
        )
    return parent.info.run_id, seed


def _log_template(tracker: Tracker, parent_id: str, template: Template) -> None:
    tracker.log_text(parent_id, template.source, f"template/{template.name}.py")
    tracker.log_text(parent_id, template.space.to_json(), "space.json")


def _algo_params(settings: SearchSettings) -> dict[str, Any]:
    if settings.algo != "tpe":
        return {}
    return {
        "tpe.n_startup_jobs": settings.n_startup_jobs,
        "tpe.gamma": settings.gamma,
        "tpe.n_ei_candidates": settings.n_ei_candidates,
    }


def _restore(search: Search, tracker: Tracker, parent_id: str) -> None:
    """Mark runs a dead process left RUNNING as KILLED; resume from the counted trials."""
    records = load_trials(tracker, parent_id)
    for record in records:
        if record.status == "RUNNING":
            tracker.set_tags(record.run_id, {"hypertune.error": "interrupted"})
            tracker.end_run(record.run_id, "KILLED")
            record.status = "KILLED"
            _log.info("trial %d was interrupted earlier; marked KILLED", record.number)
    counted = [r for r in records if r.counts]
    search.restore(counted)
    search.next_number = max((r.number for r in records), default=0) + 1
    if counted:
        best = search.result.best
        _log.info(
            "resuming study '%s': %d trials recorded%s",
            search.settings.name,
            len(counted),
            f", best {search.settings.metric} {best.value:.4f} (trial {best.number})"
            if best
            else "",
        )


def _close(search: Search, status: str) -> None:
    """Record the best params and the plots on the study's run, then end it."""
    try:
        _summarize(search)
    except TrackingError as error:
        _log.warning("warning: could not record the study's summary: %s", error)
    finally:
        try:
            search.tracker.end_run(search.parent_id, status)
        except TrackingError as error:
            _log.warning("warning: could not end the study's run: %s", error)


def _summarize(search: Search) -> None:
    """The best params, the value per trial and the params plot, on the study's run."""
    from hypertune import plots

    best = search.result.best
    if best is not None:
        search.tracker.set_tags(
            search.parent_id,
            {
                "hypertune.best_trial": str(best.number),
                **{f"best.{k}": search.space[k].format(v) for k, v in best.params.items()},
            },
        )
        search.tracker.log_metrics(
            search.parent_id, {"best_value": best.value, "trials": len(search.result.trials)}
        )
        search.tracker.log_text(
            search.parent_id, json.dumps(best.params, indent=2), "best_params.json"
        )
    finished = sorted(search.result.finished, key=lambda t: t.number)
    if finished:
        numbers = [t.number for t in finished]
        values = [t.value for t in finished]
        title = f"study {search.settings.name}"
        for figure, name in (
            (
                plots.trial_values(numbers, values, search.settings.metric, title),
                "trials.png",
            ),
            (
                plots.parallel_coordinates(
                    [t.params for t in finished], values, search.settings.metric, title
                ),
                "params.png",
            ),
        ):
            search.tracker.log_figure(search.parent_id, figure, name)
            plots.close(figure)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a terminated study closes its runs as KILLED."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
