"""``hypertune space``: the search space a template compiles into; nothing in it runs."""

from __future__ import annotations

import json

import click

from hypertune.cli._options import function_option, load_template
from hypertune.cli._train import read_params_file


@click.command()
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

    template = load_template(template_path, model_function)
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
