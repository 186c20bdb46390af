"""Search strategies side by side: the same space, budget and data, several seeds each.

    hypertune compare templates/mlp_space.py --algos tpe,rand,anneal,grid --max-evals 20 \\
        --repeats 3 --target 0.1

Every trial of every (algorithm, seed) series is a child run of one comparison run, tagged with
its algorithm and seed, so the MLflow UI holds every number behind the table and the plot.
``grid`` is deterministic, so it runs once whatever ``repeats`` says.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypertune import __version__
from hypertune._logging import get_logger
from hypertune._table import markdown_table
from hypertune.data import DataRef, load_split
from hypertune.errors import BadInputError, StudyFailedError
from hypertune.search import Search, SearchSettings
from hypertune.settings import FitSettings
from hypertune.study import check_settings
from hypertune.template import Template
from hypertune.tracking import TAG_ROLE, TAG_SHA256, TAG_TEMPLATE, Tracker

_log = get_logger(__name__)

TAG_ALGORITHM = "hypertune.compare.algorithm"
TAG_SEED = "hypertune.compare.seed"
TAG_SERIES = "hypertune.compare.series"


@dataclass
class Series:
    """One algorithm with one seed: its trials' values in trial order and its wall time."""

    algo: str
    seed: int
    values: list[float]
    seconds: float

    def best_so_far(self, maximize: bool) -> list[float]:
        best, running = [], -math.inf if maximize else math.inf
        for value in self.values:
            if not math.isnan(value):
                running = max(running, value) if maximize else min(running, value)
            best.append(running)
        return best


@dataclass
class Comparison:
    """The series of a comparison, and what was written."""

    run_id: str
    metric: str
    max_evals: int
    target: float | None
    series: list[Series] = field(default_factory=list)
    table: str = ""
    files: list[Path] = field(default_factory=list)

    @property
    def maximize(self) -> bool:
        return not self.metric.endswith("loss")

    def algorithms(self) -> list[str]:
        return list(dict.fromkeys(s.algo for s in self.series))

    def of(self, algo: str) -> list[Series]:
        return [s for s in self.series if s.algo == algo]


def run_comparison(
    template: Template,
    algos: Sequence[str],
    settings: SearchSettings,
    repeats: int,
    fit: FitSettings,
    data: DataRef,
    tracker: Tracker,
    out: Path,
    target: float | None = None,
) -> Comparison:
    """Run every algorithm ``repeats`` times under one parent run; write the plot and table."""
    if settings.max_evals is None or settings.max_evals < 1:
        raise BadInputError("compare needs --max-evals N (at least 1)")
    if repeats < 1:
        raise BadInputError(f"--repeats must be at least 1, but got {repeats}")
    for algo in algos:
        check_settings(template, replace(settings, algo=algo))
    if template.needs_split:
        load_split(data)
    base_seed = settings.seed if settings.seed is not None else 0
    parent_id = tracker.start_run(
        f"compare-{template.name}",
        {
            TAG_ROLE: "compare",
            TAG_TEMPLATE: template.path,
            TAG_SHA256: template.sha256,
            "hypertune.version": __version__,
            "hypertune.metric": settings.metric,
        },
    )
    tracker.log_params(
        parent_id,
        {
            "algos": ",".join(algos),
            "max_evals": settings.max_evals,
            "repeats": repeats,
            "seed": base_seed,
            "target": target,
            "fit.epochs": fit.epochs,
            "data": data.describe(),
        },
    )
    comparison = Comparison(parent_id, settings.metric, settings.max_evals, target)
    status = "FAILED"
    try:
        for algo in algos:
            for repeat in range(1 if algo == "grid" else repeats):
                seed = base_seed + repeat
                comparison.series.append(
                    _run_series(template, algo, seed, settings, fit, data, tracker, parent_id)
                )
        comparison.table = summary_table(comparison)
        comparison.files = _write(comparison, out, template.name, tracker)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end_run(parent_id, status)
    return comparison


def _run_series(
    template: Template,
    algo: str,
    seed: int,
    settings: SearchSettings,
    fit: FitSettings,
    data: DataRef,
    tracker: Tracker,
    parent_id: str,
) -> Series:
    name = f"{algo}-{seed}"
    _log.info("comparison: %s, seed %d", algo, seed)
    search = Search(
        template,
        replace(settings, name=name, algo=algo, seed=seed, progress=False),
        fit,
        data,
        tracker,
        parent_id,
        trial_tags={TAG_ALGORITHM: algo, TAG_SEED: str(seed), TAG_SERIES: name},
    )
    started = time.perf_counter()
    try:
        search.run()
    except StudyFailedError as error:
        _log.warning("comparison: %s", error)
    seconds = time.perf_counter() - started
    values = [
        t.value if t.ok else math.nan for t in sorted(search.result.trials, key=lambda t: t.number)
    ]
    return Series(algo, seed, values, seconds)


def checkpoints(max_evals: int) -> list[int]:
    """The budgets the table reports: N/4, N/2 and N trials (at least 1 each)."""
    return list(dict.fromkeys(max(1, round(max_evals * f)) for f in (0.25, 0.5, 1.0)))


def summary_table(comparison: Comparison) -> str:
    """Per algorithm: median best value at N/4, N/2, N; median trials to target; median time."""
    marks = checkpoints(comparison.max_evals)
    headers = ["algorithm", "runs", *[f"best @ {m}" for m in marks]]
    if comparison.target is not None:
        headers.append(f"trials to {comparison.target:g}")
    headers.append("seconds")
    rows = []
    for algo in comparison.algorithms():
        series = comparison.of(algo)
        curves = [s.best_so_far(comparison.maximize) for s in series]
        row: list[object] = [algo, len(series)]
        for mark in marks:
            reached = [c[min(mark, len(c)) - 1] for c in curves if c]
            row.append(_median_text(reached))
        if comparison.target is not None:
            needed = [_trials_to(c, comparison.target, comparison.maximize) for c in curves]
            median = statistics.median(needed) if needed else math.inf
            row.append("not reached" if math.isinf(median) else f"{median:g}")
        row.append(f"{statistics.median(s.seconds for s in series):.1f}")
        rows.append(row)
    return markdown_table(headers, rows)


def _trials_to(curve: list[float], target: float, maximize: bool) -> float:
    for index, best in enumerate(curve, start=1):
        if (best >= target) if maximize else (best <= target):
            return index
    return math.inf


def _median_text(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{statistics.median(finite):.4f}" if finite else "-"


def _write(comparison: Comparison, out: Path, name: str, tracker: Tracker) -> list[Path]:
    from hypertune import plots

    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "compare.md"
    table_path.write_text(comparison.table + "\n", encoding="utf-8")
    figure = plots.best_so_far_bands(
        {
            algo: [s.best_so_far(comparison.maximize) for s in comparison.of(algo)]
            for algo in comparison.algorithms()
        },
        comparison.metric,
        f"{name}: best {comparison.metric} so far",
    )
    plot_path = out / "compare.png"
    figure.savefig(plot_path, dpi=110, bbox_inches="tight")
    tracker.log_figure(comparison.run_id, figure, "compare.png")
    plots.close(figure)
    tracker.log_text(comparison.run_id, comparison.table + "\n", "compare.md")
    return [table_path, plot_path]
