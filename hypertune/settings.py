"""Settings that travel with a trial: plain dataclasses, importable without TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitSettings:
    """How hypertune fits build-style templates (values a template defines itself win)."""

    epochs: int = 10
    batch_size: int = 128
    patience: int | None = None
    metric: str = "val_loss"
    seed: int | None = None
    include_val: bool = False
    verbose: bool = False
