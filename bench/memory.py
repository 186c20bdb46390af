"""Resident memory of a ``hypertune tune`` process over a long study of a small template: does
it grow from trial to trial?

    python bench/memory.py            # 100 trials, ~3 minutes
    python bench/memory.py --quick    # 30 trials, ~1 minute

The study runs as the CLI does (``python -m hypertune tune``, TPE, 1 epoch a trial, 2,000
training and 1,000 validation images, a temporary SQLite MLflow store). This script reads the
study's log on stderr and, as each ``trial N`` line appears, the process's VmRSS from
``/proc/PID/status``. The table gives RSS after trials 1, 10, 25, 50 and 100 (those the study
reaches), the growth from trial 10, and the peak (VmHWM). Trial 10 is the reference because the
first trials still load code (MLflow's store, XLA's compiler) that stays for good. Much of the
baseline is TensorFlow, which ``keras.utils.set_random_seed`` imports to seed it too although
training runs on JAX. Data come from ``HYPERTUNE_DATA``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import harness

TEMPLATE = """
from math import log

import keras
from keras import layers

batch_size = 128


def create_model():
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense({{choice([32, 64, 128])}}, activation={{choice(["relu", "tanh"])}}),
        layers.Dropout({{uniform(0.0, 0.5)}}),
        layers.Dense(10, activation="softmax"),
    ])
    optimizer = keras.optimizers.Adam(learning_rate={{loguniform(log(1e-4), log(1e-2))}})
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model
"""
TRIAL_LINE = re.compile(r"^trial (\d+)\s")
MARKS = (1, 10, 25, 50, 100)


def watch_study(folder: Path, trials: int) -> tuple[dict[int, float], float]:
    """Run the study; return RSS (MiB) after each trial and the process's peak RSS."""
    template = folder / "small.py"
    template.write_text(TEMPLATE)
    data, val_size = harness.write_subset(folder, 2_000, 1_000)
    command = [sys.executable, "-m", "hypertune", "tune", str(template), "--study", "memory"]
    command += ["--max-evals", str(trials), "--epochs", "1", "--seed", "0"]
    command += ["--data", data, "--val-size", str(val_size), "--experiment", "bench-memory"]
    command += ["--tracking-uri", f"sqlite:///{folder}/mlflow.db"]
    rss: dict[int, float] = {}
    peak = 0.0
    with (folder / "stdout.txt").open("w") as stdout:
        study = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=harness.worker_env(),
            cwd=folder,
        )
        assert study.stderr is not None
        log = []
        for line in study.stderr:
            log.append(line)
            found = TRIAL_LINE.match(line)
            if not found:
                continue
            number = int(found.group(1))
            rss[number] = harness.memory_mib("VmRSS", study.pid)
            peak = harness.memory_mib("VmHWM", study.pid)
            if number in MARKS:
                print(f"  after trial {number}: {rss[number]:.0f} MiB", file=sys.stderr)
        if study.wait() != 0:
            sys.stderr.write("".join(log[-40:]))
            sys.exit(f"Error: the study exited with status {study.returncode}")
    return rss, peak


def table(rss: dict[int, float], peak: float) -> str:
    from hypertune._table import markdown_table

    last = max(rss)
    reference = rss[min(10, last)]
    marks = sorted({m for m in MARKS if m <= last} | {last})
    rows = [
        [f"after trial {m}", f"{rss[m]:.1f}", f"{100 * (rss[m] - reference) / reference:+.1f}"]
        for m in marks
    ]
    rows.append(["peak (VmHWM)", f"{peak:.1f}", ""])
    per_trial = (rss[last] - reference) / max(last - 10, 1)
    rows.append([f"slope, trial 10 to {last}", f"{per_trial * 1024:.0f} KiB/trial", ""])
    return markdown_table(("when", "RSS MiB", "growth since trial 10 %"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 trials instead of 100")
    parser.add_argument("--trials", type=int, default=None)
    args = parser.parse_args()
    trials = args.trials or (30 if args.quick else 100)

    with tempfile.TemporaryDirectory() as folder:
        rss, peak = watch_study(Path(folder), trials)
    print(
        harness.header(
            f", `hypertune tune` of a 4-marker MLP template, {trials} trials x 1 "
            "epoch, 2,000 train + 1,000 val images, JAX backend"
        )
    )
    print(table(rss, peak))


if __name__ == "__main__":
    main()
