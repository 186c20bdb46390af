"""The ``hypertune`` command line.

    hypertune space templates/mlp_space.py
    hypertune tune templates/mlp_space.py --max-evals 50
    hypertune best mlp_space -o params.json
    hypertune train templates/mlp_space.py --params params.json --epochs 20

Commands import TensorFlow, MLflow and hyperopt only when they need them, so ``--help``,
``space`` and ``best`` start quickly. Errors are one line on stderr; bad input exits with 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hypertune import __version__
from hypertune._logging import configure, get_logger
from hypertune.errors import BadInputError, HypertuneError, ParamsError

F = TypeVar("F", bound=Callable[..., Any])
_log = get_logger(__name__)


def main() -> None:
    """Entry point: run the CLI, turning hypertune's errors into one line and an exit code."""
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except HypertuneError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


class _Group(click.Group):
    """Reports HypertuneError as ``Error: ...`` also when invoked through click's test runner."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HypertuneError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hypertune")
@click.option("-v", "--verbose", count=True, help="More log lines (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and results.")
@click.option(
    "--backend",
    type=click.Choice(["jax", "tensorflow", "torch"]),
    default=None,
    help="Keras backend for training (default: $KERAS_BACKEND, else jax when installed).",
)
def cli(verbose: int, quiet: bool, backend: str | None) -> None:
    """Bayesian hyperparameter tuning of Keras models, tracked in MLflow."""
    configure(-1 if quiet else verbose)
    if backend:
        from hypertune.backend import select_backend

        select_backend(backend)


# -- shared options --------------------------------------------------------------------------


def data_options(function: F) -> F:
    function = click.option(
        "--val-size",
        type=click.IntRange(min=1),
        default=10_000,
        show_default=True,
        help="Images held out of the end of the training set for validation.",
    )(function)
    return click.option(
        "--data",
        "data_path",
        type=str,
        default=None,
        help="An .npz (x_train, y_train, x_test, y_test) or a folder of MNIST IDX files. "
        "Defaults to $HYPERTUNE_DATA, then Keras's cached download.",
    )(function)


def tracking_options(function: F) -> F:
    function = click.option(
        "--experiment", default="hypertune", show_default=True, help="MLflow experiment name."
    )(function)
    return click.option(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI. Defaults to $MLFLOW_TRACKING_URI, then sqlite:///mlflow.db.",
    )(function)


def fit_options(function: F) -> F:
    function = click.option(
        "--seed", type=int, default=None, help="Random seed (a random one is drawn and logged)."
    )(function)
    function = click.option(
        "--patience",
        type=click.IntRange(min=0),
        default=None,
        help="Stop after this many epochs without improvement, keeping the best weights.",
    )(function)
    function = click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=128,
        show_default=True,
        help="Batch size, unless the template sets batch_size itself.",
    )(function)
    return click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="Epochs, unless the template sets epochs itself.",
    )(function)


def search_options(function: F) -> F:
    """The objective and the algorithms' own settings (hyperopt's defaults)."""
    options = [
        click.option(
            "--metric",
            type=click.Choice(["val_loss", "val_accuracy"]),
            default="val_loss",
            show_default=True,
            help="The validation metric to optimize.",
        ),
        click.option(
            "--n-startup-jobs",
            type=click.IntRange(min=0),
            default=20,
            show_default=True,
            help="TPE: random trials before modelling starts.",
        ),
        click.option(
            "--gamma",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.25,
            show_default=True,
            help="TPE: share of trials counted as good.",
        ),
        click.option(
            "--n-ei-candidates",
            type=click.IntRange(min=1),
            default=24,
            show_default=True,
            help="TPE: candidates drawn per suggestion.",
        ),
        click.option(
            "--grid-points",
            type=click.IntRange(min=2),
            default=None,
            help="grid: values taken from each continuous marker's range.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def function_option(function: F) -> F:
    return click.option(
        "--function",
        "model_function",
        default=None,
        help="The model function's name (default: create_model, then model).",
    )(function)


def _compile(path: str, model_function: str | None) -> Any:
    from hypertune.template import compile_template

    template = compile_template(path, model_function)
    for warning in template.warnings:
        _log.warning("warning: %s", warning)
    return template


def _print_epoch(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
    names = (
        ("loss", "loss"),
        ("accuracy", "acc"),
        ("val_loss", "val_loss"),
        ("val_accuracy", "val_acc"),
    )
    parts = [f"{short} {metrics[key]:.4f}" for key, short in names if key in metrics]
    width = len(str(epochs))
    click.echo(
        f"Epoch {epoch:>{width}}/{epochs}  "
        + "  ".join(parts)
        + f"  {metrics.get('epoch_seconds', 0.0):.1f}s"
    )


# -- train and zoo ---------------------------------------------------------------------------


@cli.command()
@click.argument("template_path", metavar="TEMPLATE")
@fit_options
@click.option(
    "--params",
    "params_file",
    type=str,
    default=None,
    help="A JSON file of hyperparameter values (as written by `hypertune best -o`).",
)
@click.option("--from-study", default=None, help="Use the best params of this study.")
@click.option("--from-run", default=None, help="Use the params of this MLflow trial run.")
@click.option(
    "--include-val",
    is_flag=True,
    help="Train on training + validation data (no validation, no early stopping).",
)
@click.option("--register", default=None, help="Register the model under this name.")
@click.option("--no-log-model", is_flag=True, help="Do not save the model to MLflow.")
@data_options
@tracking_options
@function_option
def train(
    template_path: str,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    params_file: str | None,
    from_study: str | None,
    from_run: str | None,
    include_val: bool,
    register: str | None,
    no_log_model: bool,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
    model_function: str | None,
) -> None:
    """Train one model from TEMPLATE, print each epoch and the test accuracy, log it to MLflow.

    \b
        hypertune train templates/relu_adam.py --epochs 20
        hypertune train templates/mlp_space.py --from-study mlp_space --include-val
    """
    from hypertune.data import DataRef
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker
    from hypertune.train import train_and_log

    template = _compile(template_path, model_function)
    tracker = Tracker(tracking_uri, experiment)
    sources = [s for s in (params_file, from_study, from_run) if s]
    if len(sources) > 1:
        raise BadInputError("give at most one of --params, --from-study and --from-run")
    params, origin = _chosen_params(template, tracker, params_file, from_study, from_run)
    if template.space and not sources:
        raise ParamsError(
            f"{template.path} has {len(template.space)} hyperparameters "
            f"({', '.join(template.space.names[:4])}{', ...' if len(template.space) > 4 else ''});"
            " give their values with --params FILE, --from-study NAME or --from-run ID, or "
            "search them with `hypertune tune`"
        )
    data = DataRef.resolve(data_path, val_size)
    settings = FitSettings(
        epochs=epochs, batch_size=batch_size, patience=patience, seed=seed, include_val=include_val
    )
    if params:
        click.echo(f"Params ({origin}): {json.dumps(params)}")
    result = train_and_log(
        template,
        params,
        data,
        settings,
        tracker,
        on_epoch=_print_epoch,
        log_model=not no_log_model,
        register=register,
        tags={"hypertune.params_from": origin} if origin else None,
    )
    test = result.test
    if "test_accuracy" in test:
        click.echo(
            f"Test accuracy: {test['test_accuracy']:.4f}  (test loss "
            f"{test.get('test_loss', float('nan')):.4f}, {result.seconds:.1f}s)"
        )
    click.echo(f"MLflow run {result.run_id} in experiment '{experiment}' at {tracker.uri}")
    if register:
        click.echo(f"Registered model '{register}'")


def _chosen_params(
    template: Any,
    tracker: Any,
    params_file: str | None,
    from_study: str | None,
    from_run: str | None,
) -> tuple[dict[str, Any], str]:
    if params_file:
        return read_params_file(params_file, template.space), params_file
    if from_study:
        from hypertune.record import best_trials

        best = best_trials(tracker, from_study, template.space, top=1)
        return best[0].params, f"study {from_study}, trial {best[0].number}"
    if from_run:
        from hypertune.record import run_params

        return run_params(tracker, from_run, template.space), f"run {from_run}"
    return {}, ""


def read_params_file(path: str, space: Any) -> dict[str, Any]:
    """Read and check a params JSON file: ``{"name": value, ...}``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"no params file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParamsError(f"cannot read the params file {path}: {error}") from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParamsError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            'write an object like {"Dense_1.units": 512}'
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("params"), dict):
        loaded = loaded["params"]
    if not isinstance(loaded, dict):
        raise ParamsError(
            f"{path} holds a JSON {type(loaded).__name__}; write an object of name: value pairs"
        )
    try:
        checked: dict[str, Any] = space.check(loaded)
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
    return checked


@cli.command()
@click.option(
    "--templates",
    "templates_dir",
    default=None,
    help="Folder of the seven templates (default: ./templates).",
)
@fit_options
@click.option("--no-log-model", is_flag=True, help="Do not save the models to MLflow.")
@data_options
@tracking_options
def zoo(
    templates_dir: str | None,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    no_log_model: bool,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
) -> None:
    """Train the seven classic MNIST MLPs and print one table.

    \b
        hypertune zoo --epochs 20
    """
    from hypertune._table import markdown_table
    from hypertune.data import DataRef
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker
    from hypertune.train import train_and_log
    from hypertune.zoo import HEADERS, MODELS, templates_folder

    folder = templates_folder(templates_dir)
    templates = [(_compile(str(folder / name), None), label) for name, label in MODELS]
    data = DataRef.resolve(data_path, val_size)
    tracker = Tracker(tracking_uri, experiment)
    settings = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, seed=seed)
    rows = []
    for template, label in templates:
        _log.info("training %s (%s)", template.name, label)
        result = train_and_log(
            template,
            {},
            data,
            settings,
            tracker,
            log_model=not no_log_model,
            tags={"hypertune.zoo": "true"},
        )
        rows.append(
            (
                label,
                template.name,
                result.parameters,
                result.epochs,
                result.best_val_accuracy,
                result.test.get("test_accuracy", float("nan")),
                f"{result.seconds:.1f}",
            )
        )
        _log.info("  test accuracy %.4f in %.1fs", rows[-1][5], result.seconds)
    click.echo(markdown_table(HEADERS, rows))
    click.echo(f"\nRuns in experiment '{experiment}' at {tracker.uri}")


# -- space -----------------------------------------------------------------------------------


@cli.command()
@click.argument("template_path", metavar="TEMPLATE")
@click.option(
    "--sample",
    "samples",
    type=click.IntRange(min=1),
    default=None,
    help="Print N configurations drawn from the space, as JSON.",
)
@click.option("--seed", type=int, default=None, help="Seed for --sample and --render.")
@click.option(
    "--render", is_flag=True, help="Print the template's code with one configuration filled in."
)
@click.option(
    "--params",
    "params_file",
    default=None,
    help="With --render: fill in these values instead of a sampled configuration.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the space as JSON.")
@function_option
def space(
    template_path: str,
    samples: int | None,
    seed: int | None,
    render: bool,
    params_file: str | None,
    as_json: bool,
    model_function: str | None,
) -> None:
    """Show the search space TEMPLATE compiles into (nothing in the template runs).

    \b
        hypertune space templates/mlp_space.py
        hypertune space templates/mlp_space.py --sample 3 --seed 0
        hypertune space templates/mlp_space.py --render --seed 0
    """
    from hypertune._table import markdown_table

    template = _compile(template_path, model_function)
    space_ = template.space
    if samples is not None:
        click.echo(
            json.dumps(space_.sample(samples, seed) if space_ else [{}] * samples, indent=2)
        )
        return
    if render:
        if params_file:
            params = read_params_file(params_file, space_)
        else:
            params = space_.sample(1, seed)[0] if space_ else {}
        click.echo(f"# {template.path} with {json.dumps(params)}", err=True)
        click.echo(template.render(params), nl=False)
        return
    if as_json:
        click.echo(space_.to_json())
        return
    if not space_:
        click.echo(f"{template.path}: no markers; a fixed model (train it with `hypertune train`)")
        return
    rows = [
        (hp.name, hp.distribution, hp.describe(), space_.describe_condition(hp), hp.line)
        for hp in space_
    ]
    click.echo(markdown_table(("name", "distribution", "arguments", "active when", "line"), rows))
    count = len(space_)
    click.echo(
        f"\n{count} hyperparameter{'' if count == 1 else 's'} in {template.path} "
        f"(model function {template.function}())"
    )


# -- studies ---------------------------------------------------------------------------------


@cli.command()
@click.argument("template_path", metavar="TEMPLATE")
@click.option(
    "--max-evals",
    type=int,
    default=None,
    help="Trials in the study, in total (a resumed study runs only the rest). Required except "
    "with --algo grid, which defaults to the whole grid.",
)
@click.option(
    "--algo",
    type=click.Choice(["tpe", "rand", "anneal", "atpe", "grid", "sklearn-random"]),
    default="tpe",
    show_default=True,
    help="hyperopt's algorithms, or scikit-learn's ParameterGrid / ParameterSampler.",
)
@click.option(
    "--study",
    "study_name",
    default=None,
    help="Study name (default: the template's file name). Rerun to resume.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Start no new trial after this many seconds.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=None,
    help="Stop the study once more trials than this have failed.",
)
@click.option("--force", is_flag=True, help="Resume even though the template changed.")
@click.option(
    "--quiet", "no_progress", is_flag=True, help="No progress bar: one log line per trial only."
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Trials in the final table.",
)
@search_options
@fit_options
@data_options
@tracking_options
@function_option
def tune(
    template_path: str,
    max_evals: int | None,
    algo: str,
    grid_points: int | None,
    study_name: str | None,
    timeout: float | None,
    metric: str,
    max_failures: int | None,
    n_startup_jobs: int,
    gamma: float,
    n_ei_candidates: int,
    force: bool,
    no_progress: bool,
    top: int,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
    model_function: str | None,
) -> None:
    """Search TEMPLATE's space with TPE (or another algorithm), every trial a run in MLflow.

    \b
        hypertune tune templates/mlp_space.py --max-evals 50 --epochs 5 --patience 2
    """
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.study import run_study
    from hypertune.tracking import Tracker

    template = _compile(template_path, model_function)
    settings = SearchSettings(
        name=study_name or template.name,
        max_evals=max_evals,
        algo=algo,
        seed=seed,
        timeout=timeout,
        metric=metric,
        n_startup_jobs=n_startup_jobs,
        gamma=gamma,
        n_ei_candidates=n_ei_candidates,
        grid_points=grid_points,
        max_failures=max_failures,
        force=force,
        progress=not no_progress and _log.isEnabledFor(20) and sys.stderr.isatty(),
    )
    fit = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, metric=metric)
    tracker = Tracker(tracking_uri, experiment)
    result = run_study(template, settings, fit, DataRef.resolve(data_path, val_size), tracker)
    _print_study(result, tracker, top)


def _print_study(result: Any, tracker: Any, top: int) -> None:
    from hypertune._table import markdown_table

    finished = sorted(result.finished, key=lambda t: (t.objective, t.number))[:top]
    failed = sum(1 for t in result.trials if not t.ok)
    click.echo(
        f"Study '{result.name}': {len(result.trials)} trials ({result.new_trials} new, "
        f"{failed} failed)" + (f"; stopped: {result.stopped}" if result.stopped else "")
    )
    rows = [
        (t.number, t.value, t.epochs, f"{t.seconds:.1f}", _compact(t.params)) for t in finished
    ]
    click.echo(markdown_table(("trial", result.metric, "epochs", "seconds", "params"), rows))
    best = result.best
    if best is not None:
        click.echo(f"\nBest params (trial {best.number}, {result.metric} {best.value:.4f}):")
        click.echo(json.dumps(best.params, indent=2))
    click.echo(
        f"\nMLflow: experiment '{tracker.experiment_name}' at {tracker.uri}, study run "
        f"{result.run_id}\n  {tracker.run_url(result.run_id)}  (`hypertune ui` serves it)"
    )


def _compact(params: dict[str, Any], width: int = 70) -> str:
    text = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
    return text if len(text) <= width else text[: width - 3] + "..."


@cli.command()
@click.argument("study_name", metavar="STUDY")
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the best trials to show.",
)
@click.option("-o", "--output", default=None, help="Write the JSON to this file.")
@tracking_options
def best(
    study_name: str, top: int, output: str | None, tracking_uri: str | None, experiment: str
) -> None:
    """Print the best params of STUDY as JSON (values, not indices).

    \b
        hypertune best mlp_space -o params.json
        hypertune best mlp_space --top 3
    """
    from hypertune.record import best_trials
    from hypertune.tracking import Tracker

    tracker = Tracker(tracking_uri, experiment)
    trials = best_trials(tracker, study_name, top=top)
    if top == 1:
        payload: Any = trials[0].params
    else:
        payload = [
            {"trial": t.number, "value": t.value, "run_id": t.run_id, "params": t.params}
            for t in trials
        ]
    text = json.dumps(payload, indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(
            f"Wrote the best params of '{study_name}' (trial {trials[0].number}) to {output}"
        )
    else:
        click.echo(text)


@cli.command()
@tracking_options
def studies(tracking_uri: str | None, experiment: str) -> None:
    """List the studies in the experiment: trials, best value, status."""
    from hypertune._table import markdown_table
    from hypertune.record import find_studies, load_trials
    from hypertune.tracking import TAG_STUDY, TAG_TEMPLATE, Tracker

    tracker = Tracker(tracking_uri, experiment)
    rows = []
    for run in find_studies(tracker):
        trials = load_trials(tracker, run.info.run_id)
        finished = [t for t in trials if t.ok]
        best_trial = min(finished, key=lambda t: t.objective) if finished else None
        rows.append(
            (
                run.data.tags.get(TAG_STUDY, "?"),
                run.data.tags.get("hypertune.metric", "?"),
                sum(t.counts for t in trials),
                sum(t.status == "FAILED" for t in trials),
                best_trial.value if best_trial else "-",
                run.info.status,
                run.data.tags.get(TAG_TEMPLATE, "?"),
            )
        )
    if not rows:
        click.echo(f"No studies in experiment '{experiment}' at {tracker.uri}")
        return
    click.echo(
        markdown_table(("study", "metric", "trials", "failed", "best", "status", "template"), rows)
    )


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; anything but 127.0.0.1 exposes your runs.",
)
@click.option(
    "--tracking-uri",
    default=None,
    help="MLflow tracking URI. Defaults to $MLFLOW_TRACKING_URI, then sqlite:///mlflow.db.",
)
def ui(port: int, host: str, tracking_uri: str | None) -> None:
    """Serve the MLflow UI for the tracking store on 127.0.0.1.

    \b
        hypertune ui --port 5000
    """
    import signal
    import subprocess

    from hypertune.tracking import resolve_uri

    uri = resolve_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise BadInputError(f"{uri} is already a tracking server: open it in a browser")
    if host not in ("127.0.0.1", "localhost", "::1"):
        _log.warning(
            "warning: serving on %s: anyone who can reach this machine can read and "
            "change your runs",
            host,
        )
    click.echo(f"MLflow UI for {uri} at http://{host}:{port}  (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command)

    def stop(signum: int, frame: object) -> None:
        server.terminate()

    # without this, SIGTERM would end hypertune and leave the server running, orphaned
    signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to the server too
        code = 0
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait()
    if code > 0:
        raise HypertuneError(f"mlflow ui exited with status {code}")


@cli.command()
@click.argument("template_path", metavar="TEMPLATE")
@click.option(
    "--algos",
    default="tpe,rand,anneal",
    show_default=True,
    help="Comma-separated: tpe, rand, anneal, atpe, grid, sklearn-random.",
)
@click.option(
    "--max-evals",
    type=click.IntRange(min=1),
    required=True,
    help="Trials per run of each algorithm.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs per algorithm, with seeds seed, seed+1, ... (grid runs once).",
)
@click.option(
    "--target",
    type=float,
    default=None,
    help="Report the median number of trials needed to reach this value.",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    help="Folder for compare.md and compare.png (default: compare-TEMPLATE).",
)
@search_options
@fit_options
@data_options
@tracking_options
@function_option
def compare(
    template_path: str,
    algos: str,
    max_evals: int,
    repeats: int,
    target: float | None,
    out_dir: str | None,
    metric: str,
    n_startup_jobs: int,
    gamma: float,
    n_ei_candidates: int,
    grid_points: int | None,
    epochs: int,
    batch_size: int,
    patience: int | None,
    seed: int | None,
    data_path: str | None,
    val_size: int,
    tracking_uri: str | None,
    experiment: str,
    model_function: str | None,
) -> None:
    """Run several search algorithms on the same space and budget; plot and tabulate them.

    \b
        hypertune compare templates/mlp_space.py --algos tpe,rand,anneal,grid \\
            --max-evals 20 --repeats 3 --grid-points 2 --epochs 1
    """
    from hypertune.compare import run_comparison
    from hypertune.data import DataRef
    from hypertune.search import SearchSettings
    from hypertune.settings import FitSettings
    from hypertune.tracking import Tracker

    names = [a.strip() for a in algos.split(",") if a.strip()]
    if not names:
        raise BadInputError("--algos needs at least one algorithm, like --algos tpe,rand")
    template = _compile(template_path, model_function)
    settings = SearchSettings(
        name=template.name,
        max_evals=max_evals,
        seed=seed,
        metric=metric,
        grid_points=grid_points,
        n_startup_jobs=n_startup_jobs,
        gamma=gamma,
        n_ei_candidates=n_ei_candidates,
        progress=False,
    )
    fit = FitSettings(epochs=epochs, batch_size=batch_size, patience=patience, metric=metric)
    tracker = Tracker(tracking_uri, experiment)
    out = Path(out_dir or f"compare-{template.name}")
    comparison = run_comparison(
        template,
        names,
        settings,
        repeats,
        fit,
        DataRef.resolve(data_path, val_size),
        tracker,
        out,
        target,
    )
    click.echo(comparison.table)
    click.echo(
        f"\nWrote {', '.join(str(p) for p in comparison.files)}; MLflow comparison run "
        f"{comparison.run_id} in experiment '{experiment}' at {tracker.uri}"
    )
