"""Figures logged with runs: learning curves, a study's trials, params against the objective.

Matplotlib runs with the Agg backend; figures are returned for the caller to save or log.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def close(figure: Figure) -> None:
    """Release a figure once it is saved."""
    plt.close(figure)


def learning_curve(history: Sequence[Mapping[str, float]], title: str) -> Figure:
    """Loss and accuracy per epoch, training beside validation."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = list(range(1, len(history) + 1))
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = [epoch.get(prefix + metric, math.nan) for epoch in history]
            if any(not math.isnan(v) for v in values):
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def trial_values(
    numbers: Sequence[int], values: Sequence[float], metric: str, title: str
) -> Figure:
    """Each trial's value and the best so far, against the trial number."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.scatter(numbers, values, s=18, label="trial", color="tab:blue")
    best, running = [], math.inf if metric.endswith("loss") else -math.inf
    for value in values:
        running = min(running, value) if metric.endswith("loss") else max(running, value)
        best.append(running)
    axis.step(numbers, best, where="post", color="tab:red", label="best so far")
    axis.set_xlabel("trial")
    axis.set_ylabel(metric)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def parallel_coordinates(
    configurations: Sequence[Mapping[str, Any]], values: Sequence[float], metric: str, title: str
) -> Figure:
    """One line per trial across one axis per hyperparameter, coloured by the objective.

    Numeric axes are scaled to [0, 1] between their smallest and largest value; categorical
    axes place their values evenly and label them. Inactive values leave a gap in the line.
    """
    names = list(dict.fromkeys(name for c in configurations for name in c))
    axes_values = [_axis(name, configurations) for name in names]
    figure, axis = plt.subplots(figsize=(max(6.0, 1.4 * (len(names) + 1)), 5))
    colours = plt.get_cmap("viridis_r" if metric.endswith("loss") else "viridis")
    finite = [v for v in values if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=metric.endswith("loss"))
    for i in order:
        ys = [
            position(configurations[i].get(name))
            for name, (position, _) in zip(names, axes_values, strict=True)
        ]
        ys.append((values[i] - low) / (high - low) if high > low else 0.5)
        shade = colours((values[i] - low) / (high - low) if high > low else 0.5)
        axis.plot(range(len(ys)), ys, color=shade, alpha=0.7, linewidth=1.2)
    for x, (_name, (_, labels)) in enumerate(zip(names, axes_values, strict=True)):
        axis.axvline(x, color="grey", linewidth=0.6)
        for y, text in labels:
            axis.text(x + 0.03, y, text, fontsize=7, va="center")
    axis.axvline(len(names), color="grey", linewidth=0.6)
    axis.text(len(names) + 0.03, 0.0, f"{low:.4g}", fontsize=7)
    axis.text(len(names) + 0.03, 1.0, f"{high:.4g}", fontsize=7)
    axis.set_xticks(range(len(names) + 1), [*names, metric], rotation=30, ha="right")
    axis.set_yticks([])
    axis.set_title(title)
    return figure


def _axis(
    name: str, configurations: Sequence[Mapping[str, Any]]
) -> tuple[Any, list[tuple[float, str]]]:
    present = [c[name] for c in configurations if name in c]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        low, high = min(present), max(present)
        span = (high - low) or 1.0

        def numeric(value: Any) -> float:
            return math.nan if value is None else (value - low) / span

        return numeric, [(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")]
    keys = list(dict.fromkeys(repr(v) for v in present))
    places = {k: (i / (len(keys) - 1) if len(keys) > 1 else 0.5) for i, k in enumerate(keys)}

    def categorical(value: Any) -> float:
        return math.nan if value is None else places[repr(value)]

    return categorical, [(y, k[:18]) for k, y in places.items()]


def best_so_far_bands(
    curves: Mapping[str, Sequence[Sequence[float]]], metric: str, title: str
) -> Figure:
    """Per algorithm, the median best-so-far curve over its seeds and the min-max band.

    The curves are steps (the best so far holds until a trial beats it), and the value axis
    is zoomed on everything from a quarter of the budget on, where the algorithms differ; the
    first random trials may lie below it.
    """
    figure, axis = plt.subplots(figsize=(8, 4.5))
    shown: list[float] = []
    for label, series in curves.items():
        length = max((len(c) for c in series), default=0)
        xs, medians, lows, highs = [], [], [], []
        for i in range(length):
            at = [c[i] for c in series if i < len(c) and math.isfinite(c[i])]
            if at:
                at.sort()
                xs.append(i + 1)
                middle = len(at) // 2
                medians.append(at[middle] if len(at) % 2 else (at[middle - 1] + at[middle]) / 2)
                lows.append(at[0])
                highs.append(at[-1])
        (line,) = axis.plot(
            xs,
            medians,
            label=f"{label} ({len(series)} run{'' if len(series) == 1 else 's'})",
            linewidth=1.6,
            drawstyle="steps-post",
        )
        if len(series) > 1:
            axis.fill_between(
                xs, lows, highs, color=line.get_color(), alpha=0.18, step="post", linewidth=0
            )
        quarter = len(xs) // 4
        shown += lows[quarter:] + highs[quarter:]
    if shown:
        low, high = min(shown), max(shown)
        margin = (high - low) * 0.08 or abs(high) * 0.01 or 0.01
        axis.set_ylim(low - margin, high + margin)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("trial")
    axis.set_ylabel(f"best {metric} so far")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure
