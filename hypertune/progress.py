"""What a study shows while it runs: a bar over trials with the best value, and one line each."""

from __future__ import annotations

from typing import Any

from hypertune._logging import get_logger
from hypertune.trial import TrialRecord

_log = get_logger(__name__)


class StudyProgress:
    """A tqdm bar on stderr (unless ``settings.progress`` is off) and a log line per trial."""

    def __init__(self, settings: Any, done: int, result: Any):
        self.settings = settings
        self.result = result
        self.bar: Any = None
        self.done = done

    def __enter__(self) -> StudyProgress:
        if self.settings.progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.settings.max_evals,
                initial=self.done,
                unit="trial",
                desc=self.settings.name,
                dynamic_ncols=True,
                leave=False,
            )
            self._show_best()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, trial: TrialRecord) -> None:
        _log.info(trial_line(trial, self.result.best, self.settings.metric))
        if self.bar is not None:
            self.bar.update(1)
            self._show_best()

    def _show_best(self) -> None:
        best = self.result.best
        if best is not None:
            self.bar.set_postfix_str(f"best {self.settings.metric} {best.value:.4f}")


def trial_line(trial: TrialRecord, best: TrialRecord | None, metric: str) -> str:
    """``trial 7  val_loss 0.0812  best 0.0790 (trial 3)  12.3s  units=512 ...``"""
    if trial.ok:
        outcome = f"{metric} {trial.value:.4f}"
    else:
        outcome = f"FAILED ({trial.error.splitlines()[0][:80] if trial.error else trial.status})"
    best_part = f"best {best.value:.4f} (trial {best.number})" if best else "no best yet"
    params = " ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={_short(v)}" for k, v in trial.params.items()
    )
    return f"trial {trial.number}  {outcome}  {best_part}  {trial.seconds:.1f}s  {params}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
