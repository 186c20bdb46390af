"""The ask-evaluate-record loop under a parent run, shared by studies and comparisons.

The loop is hyperopt's own (a proposer gives a configuration, a trial evaluates it, the result
joins the history) run here so that each trial is a child run in MLflow and the history can be
rebuilt from MLflow alone: :meth:`Search.restore` takes recorded trials back into hyperopt's
``Trials`` so TPE goes on from everything learned.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from hypertune._logging import get_logger
from hypertune.data import DataRef
from hypertune.errors import BadInputError, StudyFailedError, TrackingError
from hypertune.searchers import Proposer, make_proposer, trial_seed
from hypertune.settings import FitSettings
from hypertune.space import Params
from hypertune.template import Template
from hypertune.tracking import Tracker
from hypertune.trial import TrialNotRecorded, TrialRecord, TrialSpec, run_trial

_log = get_logger(__name__)


class _FrozenHeap:
    """Keep long-lived objects out of the garbage collector's scans while trials run.

    Keras frees each trial's model with a full ``gc.collect()``, which scans every object of
    the process: JAX, MLflow, SQLAlchemy, and JAX's tracing caches, which grow by a thousand
    objects a trial. Measured on 2 cores, that collection took 70 ms after 10 trials and 140
    ms after 30. Frozen before the first trial and again after each (what a trial leaves alive
    is mostly cache), the collection scans only the last trial's objects: 20-30 ms, most of
    it freeing the model. A cache entry evicted later stays frozen until the next sweep, so
    every :attr:`SWEEP_EVERY` trials one collection looks at everything.
    """

    SWEEP_EVERY = 20

    def __init__(self) -> None:
        self.trials = 0

    def __enter__(self) -> _FrozenHeap:
        gc.collect()
        gc.freeze()
        return self

    def after_trial(self) -> None:
        self.trials += 1
        if self.trials % self.SWEEP_EVERY == 0:
            gc.unfreeze()
            gc.collect()
        gc.freeze()

    def __exit__(self, *exc_info: object) -> None:
        gc.unfreeze()


@dataclass(frozen=True)
class SearchSettings:
    """How to search: the budget, the algorithm and its settings (hyperopt's defaults).

    ``max_evals`` counts every recorded trial, resumed ones included; None (``grid`` only)
    means the whole grid.
    """

    name: str
    max_evals: int | None
    algo: str = "tpe"
    seed: int | None = None
    timeout: float | None = None
    metric: str = "val_loss"
    n_startup_jobs: int = 20
    gamma: float = 0.25
    n_ei_candidates: int = 24
    grid_points: int | None = None
    max_failures: int | None = None
    force: bool = False
    progress: bool = True

    def tpe_options(self) -> dict[str, Any]:
        return {
            "n_startup_jobs": self.n_startup_jobs,
            "gamma": self.gamma,
            "n_EI_candidates": self.n_ei_candidates,
        }


@dataclass
class SearchResult:
    """All recorded trials of a search; :attr:`best` has the lowest objective."""

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


class Search:
    """Trials of one configuration source under one parent run."""

    def __init__(
        self,
        template: Template,
        settings: SearchSettings,
        fit: FitSettings,
        data: DataRef,
        tracker: Tracker,
        parent_id: str,
        trial_tags: dict[str, str] | None = None,
    ):
        from hyperopt import Domain, Trials

        self.template = template
        self.space = template.space
        self.settings = settings
        self.seed = settings.seed or 0
        self.fit = fit
        self.data = data
        self.tracker = tracker
        self.parent_id = parent_id
        self.trial_tags = trial_tags or {}
        self.domain = Domain(lambda _: 0.0, self.space.to_hyperopt())
        self.history = Trials()
        self.result = SearchResult(settings.name, parent_id, settings.metric)
        self.next_number = 1
        self._proposer: Proposer | None = None

    # -- resume ------------------------------------------------------------------------------

    def restore(self, records: list[TrialRecord]) -> None:
        """Take recorded trials into the history (those that still fit the space)."""
        skipped = 0
        for record in records:
            try:
                params = self.space.check(record.params)
            except BadInputError:
                skipped += 1
                continue
            self._remember(record.number, params, record.to_hyperopt())
            self.result.trials.append(record)
        if skipped:
            _log.warning(
                "%d recorded trials do not fit the edited template and are left out of the "
                "search history",
                skipped,
            )
        self.result.resumed_from = len(self.result.trials)

    # -- the loop ----------------------------------------------------------------------------

    @property
    def proposer(self) -> Proposer:
        if self._proposer is None:
            settings = self.settings
            self._proposer = make_proposer(
                settings.algo,
                self.space,
                self.seed,
                recorded=[t.params for t in self.result.trials],
                grid_points=settings.grid_points,
                tpe_options=settings.tpe_options(),
            )
        return self._proposer

    def run(self) -> SearchResult:
        """Run trials until the budget, the timeout, the grid or the failure limit ends it."""
        from hypertune.progress import StudyProgress

        settings = self.settings
        budget = settings.max_evals if settings.max_evals is not None else math.inf
        started = time.monotonic()
        failures = 0
        with (
            _FrozenHeap() as heap,
            StudyProgress(settings, len(self.result.trials), self.result) as progress,
        ):
            while len(self.result.trials) < budget:
                if settings.timeout is not None and time.monotonic() - started >= settings.timeout:
                    self.result.stopped = f"timeout of {settings.timeout:g}s reached"
                    break
                number = self.next_number
                params = self.proposer.propose(number, self.history, self.domain)
                if params is None:
                    self.result.stopped = "every combination of the grid is recorded"
                    break
                self.next_number += 1
                trial = self._evaluate(number, params)
                heap.after_trial()
                progress.update(trial)
                if trial.ok:
                    continue
                failures += 1
                if trial.fatal:
                    raise BadInputError(f"trial {trial.number}: {trial.error}")
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
        return self.result

    def _evaluate(self, number: int, params: Params) -> TrialRecord:
        spec = TrialSpec(
            template=self.template,
            params=params,
            number=number,
            study=self.settings.name,
            data=self.data,
            fit=replace(
                self.fit,
                seed=trial_seed(self.seed, number, purpose=1),
                metric=self.settings.metric,
            ),
            tracking_uri=self.tracker.uri,
            experiment=self.tracker.experiment_name,
            parent_run_id=self.parent_id,
            tags=self.trial_tags,
        )
        try:
            trial = run_trial(spec, tracker=self.tracker)
        except TrialNotRecorded as lost:
            raise TrackingError(
                f"{lost}. Recorded: the {len(self.result.trials)} trials before it. Not recorded: "
                f"trial {number} and everything after. Rerun the same command to resume once "
                f"the store at {self.tracker.uri} answers again"
            ) from None
        self._remember(number, params, trial.to_hyperopt())
        self.result.trials.append(trial)
        self.result.new_trials += 1
        best = self.result.best
        if best is not None:
            try:
                self.tracker.log_metrics(
                    self.parent_id, {self._best_metric: best.value}, step=number
                )
            except TrackingError as error:
                raise TrackingError(
                    f"the study's best value after trial {number} could not be recorded: "
                    f"{error}. Recorded: the {len(self.result.trials)} trials up to and "
                    f"including trial {number}. Rerun the same command to resume once the "
                    f"store at {self.tracker.uri} answers again"
                ) from None
        return trial

    @property
    def _best_metric(self) -> str:
        prefix = self.trial_tags.get("hypertune.compare.series")
        return f"best_value.{prefix}" if prefix else "best_value"

    def _remember(self, number: int, params: Params, outcome: dict[str, Any]) -> None:
        """Add one finished trial to hyperopt's history, as hyperopt itself records it."""
        from hyperopt import JOB_STATE_DONE

        vals = self.space.to_vals(params)
        misc = {
            "tid": number,
            "cmd": self.domain.cmd,
            "workdir": None,
            "idxs": {name: [number] if value else [] for name, value in vals.items()},
            "vals": vals,
        }
        [doc] = self.history.new_trial_docs([number], [None], [outcome], [misc])
        doc["state"] = JOB_STATE_DONE
        self.history.insert_trial_docs([doc])
        self.history.refresh()
