"""A study: hyperopt's search over a template's space, every trial a child run in MLflow.

    hypertune tune templates/mlp_space.py --max-evals 50 --study mlp

The loop is hyperopt's own (ask the algorithm for a point, evaluate it, record the result), run
here so that the record lives in MLflow: a rerun of the same study reads its finished trials
back into hyperopt's history, marks runs left RUNNING by a dead process KILLED, and goes on
until ``max_evals`` trials are recorded in total. Each suggestion is seeded from the study seed
and the trial number, so a resumed study never replays the start-up points it already tried.
"""

from __future__ import annotations

import json
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hypertune import __version__
from hypertune._logging import get_logger
from hypertune.data import DataRef, load_split
from hypertune.errors import BadInputError, StudyFailedError
from hypertune.lease import Lease
from hypertune.record import check_study_name, find_studies, load_trials
from hypertune.settings import FitSettings
from hypertune.space import SearchSpace
from hypertune.template import Template
from hypertune.tracking import TAG_ROLE, TAG_SHA256, TAG_STUDY, TAG_TEMPLATE, Tracker
from hypertune.trial import TrialRecord, TrialSpec, run_trial

_log = get_logger(__name__)

ALGORITHMS = ("tpe", "rand", "anneal", "atpe")
METRICS = ("val_loss", "val_accuracy")


@dataclass(frozen=True)
class StudySettings:
    """How to search: the budget, the algorithm and its settings (hyperopt's defaults)."""

    name: str
    max_evals: int
    algo: str = "tpe"
    seed: int | None = None
    timeout: float | None = None
    metric: str = "val_loss"
    n_startup_jobs: int = 20
    gamma: float = 0.25
    n_ei_candidates: int = 24
    max_failures: int | None = None
    force: bool = False
    progress: bool = True


@dataclass
class StudyResult:
    """A study's outcome: all its recorded trials, best first available via :attr:`best`."""

    name: str
    run_id: str
    metric: str
    trials: list[TrialRecord] = field(default_factory=list)
    new_trials: int = 0
    resumed_from: int = 0
    stopped: str = ""

    @property
    def finished(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.ok]

    @property
    def best(self) -> TrialRecord | None:
        finished = self.finished
        return min(finished, key=lambda t: (t.objective, t.number)) if finished else None


def run_study(
    template: Template,
    settings: StudySettings,
    fit: FitSettings,
    data: DataRef,
    tracker: Tracker,
) -> StudyResult:
    """Run (or resume) a study until ``settings.max_evals`` trials are recorded."""
    _check(template, settings)
    load_split(data)
    tracker.experiment_id()
    parent_id, seed = _open_parent(template, settings, fit, data, tracker)
    settings = replace(settings, seed=seed)
    with Lease(tracker, parent_id, settings.name), _terminate_as_interrupt():
        tracker.client.update_run(parent_id, status="RUNNING")
        return _Search(template, settings, fit, data, tracker, parent_id).run()


def _check(template: Template, settings: StudySettings) -> None:
    check_study_name(settings.name)
    if not template.space:
        raise BadInputError(
            f"{template.path} has no markers, so there is nothing to tune; train it with "
            "`hypertune train`, or mark a choice like {{choice([256, 512])}}"
        )
    if settings.algo not in ALGORITHMS:
        raise BadInputError(f"unknown algorithm '{settings.algo}'; use one of {ALGORITHMS}")
    if settings.metric not in METRICS:
        raise BadInputError(f"unknown metric '{settings.metric}'; use one of {METRICS}")
    if settings.max_evals < 1:
        raise BadInputError(f"--max-evals must be at least 1, but got {settings.max_evals}")


def _open_parent(
    template: Template,
    settings: StudySettings,
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
        },
    )
    tracker.log_text(parent_id, template.space.to_json(), "space.json")
    tracker.log_text(parent_id, template.source, f"template/{template.name}.py")
    winner = find_studies(tracker, settings.name)[0]
    if winner.info.run_id != parent_id:  # another process created the same study just now
        tracker.client.delete_run(parent_id)
        return _resume_parent(winner, template, settings, tracker)
    return parent_id, seed


def _resume_parent(
    parent: Any, template: Template, settings: StudySettings, tracker: Tracker
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
    seed = int(tags.get("hypertune.seed", "0"))
    if settings.seed is not None and settings.seed != seed:
        _log.warning(
            "study '%s' keeps its seed %d (--seed %d ignored on resume)",
            settings.name,
            seed,
            settings.seed,
        )
    return parent.info.run_id, seed


def _algo_params(settings: StudySettings) -> dict[str, Any]:
    if settings.algo != "tpe":
        return {}
    return {
        "tpe.n_startup_jobs": settings.n_startup_jobs,
        "tpe.gamma": settings.gamma,
        "tpe.n_ei_candidates": settings.n_ei_candidates,
    }


def _suggest_function(settings: StudySettings) -> Callable[..., Any]:
    import functools

    from hyperopt import anneal, rand, tpe

    if settings.algo == "tpe":
        return functools.partial(
            tpe.suggest,
            n_startup_jobs=settings.n_startup_jobs,
            gamma=settings.gamma,
            n_EI_candidates=settings.n_ei_candidates,
        )
    if settings.algo == "atpe":
        try:
            from hyperopt import atpe
        except ImportError as error:
            raise BadInputError(
                f"--algo atpe needs lightgbm and scikit-learn ({error}); install them with "
                "`pip install lightgbm scikit-learn`"
            ) from None
        return atpe.suggest  # type: ignore[no-any-return]
    return {"rand": rand.suggest, "anneal": anneal.suggest}[settings.algo]  # type: ignore[no-any-return]


class _Search:
    """The ask-evaluate-record loop of one study process."""

    def __init__(
        self,
        template: Template,
        settings: StudySettings,
        fit: FitSettings,
        data: DataRef,
        tracker: Tracker,
        parent_id: str,
    ):
        from hyperopt import Domain, Trials

        self.template = template
        self.space: SearchSpace = template.space
        self.settings = settings
        self.fit = fit
        self.data = data
        self.tracker = tracker
        self.parent_id = parent_id
        self.domain = Domain(lambda _: 0.0, self.space.to_hyperopt())
        self.hyperopt_trials = Trials()
        self.suggest = _suggest_function(settings)
        self.result = StudyResult(settings.name, parent_id, settings.metric)

    def run(self) -> StudyResult:
        recorded = self._restore()
        self.result.resumed_from = len(recorded)
        status = "FAILED"
        try:
            self._loop()
            status = "FINISHED" if self.result.best is not None else "FAILED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            self._close(status)
        return self.result

    # -- resume ------------------------------------------------------------------------------

    def _restore(self) -> list[TrialRecord]:
        """Load recorded trials into hyperopt's history; mark orphaned RUNNING runs KILLED."""
        records = load_trials(self.tracker, self.parent_id)
        for record in records:
            if record.status == "RUNNING":
                self.tracker.set_tags(record.run_id, {"hypertune.error": "interrupted"})
                self.tracker.end_run(record.run_id, "KILLED")
                record.status = "KILLED"
                _log.info("trial %d was interrupted earlier; marked KILLED", record.number)
        counted = [r for r in records if r.counts]
        skipped = 0
        for record in counted:
            try:
                params = self.space.check(record.params)
            except BadInputError:
                skipped += 1
                continue
            self._insert(record.number, params, record.to_hyperopt())
            self.result.trials.append(record)
        if skipped:
            _log.warning(
                "%d recorded trials do not fit the edited template and are left out "
                "of the search history",
                skipped,
            )
        self.next_number = max((r.number for r in records), default=0) + 1
        if counted:
            best = self.result.best
            _log.info(
                "resuming study '%s': %d trials recorded%s",
                self.settings.name,
                len(counted),
                f", best {self.settings.metric} {best.value:.4f} (trial {best.number})"
                if best
                else "",
            )
        return counted

    def _insert(self, number: int, params: dict[str, Any], outcome: dict[str, Any]) -> None:
        from hyperopt import JOB_STATE_DONE

        vals = self.space.to_vals(params)
        misc = {
            "tid": number,
            "cmd": self.domain.cmd,
            "workdir": None,
            "idxs": {name: [number] if v else [] for name, v in vals.items()},
            "vals": vals,
        }
        [doc] = self.hyperopt_trials.new_trial_docs([number], [None], [outcome], [misc])
        doc["state"] = JOB_STATE_DONE
        self.hyperopt_trials.insert_trial_docs([doc])
        self.hyperopt_trials.refresh()

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        from hypertune.progress import StudyProgress

        settings = self.settings
        started = time.monotonic()
        failures = 0
        with StudyProgress(settings, len(self.result.trials), self.result) as progress:
            while len(self.result.trials) < settings.max_evals:
                if settings.timeout is not None and time.monotonic() - started >= settings.timeout:
                    self.result.stopped = f"timeout of {settings.timeout:g}s reached"
                    break
                result = self._one_trial()
                progress.update(result)
                if not result.ok:
                    failures += 1
                    if result.fatal:
                        raise BadInputError(f"trial {result.number}: {result.error}")
                    if settings.max_failures is not None and failures > settings.max_failures:
                        self.result.stopped = (
                            f"{failures} trials failed, more than --max-failures "
                            f"{settings.max_failures}"
                        )
                        break
        if self.result.best is None and self.result.trials:
            first = next(t for t in self.result.trials if t.error)
            raise StudyFailedError(
                f"every trial of study '{settings.name}' failed; the first error (trial "
                f"{first.number}): {first.error.splitlines()[0]}"
            )

    def _one_trial(self) -> TrialRecord:
        from hyperopt import base, pyll

        number = self.next_number
        self.next_number += 1
        rng = np.random.default_rng([self.settings.seed or 0, number])
        [doc] = self.suggest(
            [number], self.domain, self.hyperopt_trials, int(rng.integers(2**31 - 1))
        )
        config = base.spec_from_misc(doc["misc"])
        sample = pyll.rec_eval(self.domain.expr, memo=self.domain.memo_from_config(config))
        params = self.space.flatten(sample)

        spec = TrialSpec(
            template=self.template,
            params=params,
            number=number,
            study=self.settings.name,
            data=self.data,
            fit=replace(self.fit, seed=int(rng.integers(2**31 - 1)), metric=self.settings.metric),
            tracking_uri=self.tracker.uri,
            experiment=self.tracker.experiment_name,
            parent_run_id=self.parent_id,
        )
        result = run_trial(spec, tracker=self.tracker)
        self._insert(number, params, result.to_hyperopt())
        self.result.trials.append(result)
        self.result.new_trials += 1
        best = self.result.best
        if best is not None:
            self.tracker.log_metrics(self.parent_id, {"best_value": best.value}, step=number)
        return result

    # -- closing -----------------------------------------------------------------------------

    def _close(self, status: str) -> None:
        """Record the best params and the plots on the parent run, then end it."""
        from hypertune import plots

        best = self.result.best
        try:
            if best is not None:
                self.tracker.set_tags(
                    self.parent_id,
                    {
                        "hypertune.best_trial": str(best.number),
                        **{f"best.{k}": self.space[k].format(v) for k, v in best.params.items()},
                    },
                )
                self.tracker.log_metrics(
                    self.parent_id, {"best_value": best.value, "trials": len(self.result.trials)}
                )
                self.tracker.log_text(
                    self.parent_id, json.dumps(best.params, indent=2), "best_params.json"
                )
            finished = sorted(self.result.finished, key=lambda t: t.number)
            if finished:
                numbers = [t.number for t in finished]
                values = [t.value for t in finished]
                title = f"study {self.settings.name}"
                for figure, name in (
                    (
                        plots.trial_values(numbers, values, self.settings.metric, title),
                        "trials.png",
                    ),
                    (
                        plots.parallel_coordinates(
                            [t.params for t in finished], values, self.settings.metric, title
                        ),
                        "params.png",
                    ),
                ):
                    self.tracker.log_figure(self.parent_id, figure, name)
                    plots.close(figure)
        finally:
            self.tracker.end_run(self.parent_id, status)


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
