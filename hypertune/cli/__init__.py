"""The ``hypertune`` command line.

    hypertune space templates/mlp_space.py
    hypertune tune templates/mlp_space.py --max-evals 50
    hypertune best mlp_space -o params.json
    hypertune train templates/mlp_space.py --params params.json --epochs 20

Commands import TensorFlow, MLflow and hyperopt only when they need them, so ``--help``,
``space`` and ``best`` start quickly. Errors are one line on stderr; bad input exits with 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from hypertune import __version__
from hypertune._logging import configure
from hypertune.errors import HypertuneError


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


from hypertune.cli._compare import compare  # noqa: E402
from hypertune.cli._space import space  # noqa: E402
from hypertune.cli._study import best, studies, tune  # noqa: E402
from hypertune.cli._train import read_params_file, train, zoo  # noqa: E402
from hypertune.cli._ui import ui  # noqa: E402

for _command in (space, tune, best, studies, train, zoo, compare, ui):
    cli.add_command(_command)

__all__ = ["cli", "main", "read_params_file"]
