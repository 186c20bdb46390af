"""grid and sklearn-random: scikit-learn's searchers proposing configurations for studies."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from hypertune.errors import BadInputError
from hypertune.searchers import GridProposer, SamplerProposer, grid_branches, grid_size
from hypertune.template import compile_source

CHEAP = """
from hyperopt import STATUS_OK


def data():
    return None, None, None, None


def create_model(x_train, y_train, x_test, y_test):
    kind = {{choice(["flat", "deep"])}}
    size = {{choice([1, 2, 3])}}
    extra = 0
    if kind == "deep":
        extra = {{choice([10, 20])}}
    return {"loss": size + extra / 10, "status": STATUS_OK}
"""

CONTINUOUS = """
def create_model():
    rate = {{uniform(0, 1)}}
    lr = {{loguniform(-9, -3)}}
    units = {{quniform(32, 128, 32)}}
    depth = {{randint(1, 4)}}
    noise = {{normal(0, 1)}}
"""


def _expected_cheap() -> list[dict[str, object]]:
    flat = [{"kind": "flat", "size": s} for s in (1, 2, 3)]
    deep = [
        {"kind": "deep", "size": s, "extra": e} for s, e in itertools.product((1, 2, 3), (10, 20))
    ]
    return flat + deep


def _key(params: dict[str, object]) -> str:
    return json.dumps(params, sort_keys=True)


def test_grid_enumerates_each_branch_of_a_conditional_space_once() -> None:
    space = compile_source(CHEAP).space
    proposer = GridProposer(space, None, recorded=[])
    proposed = []
    while (params := proposer.propose(len(proposed) + 1, None, None)) is not None:
        proposed.append(params)
    assert len(proposer) == grid_size(space, None) == 9
    assert sorted(map(_key, proposed)) == sorted(map(_key, _expected_cheap()))
    for params in proposed:
        assert space.check(params) == params


def test_grid_skips_recorded_configurations() -> None:
    space = compile_source(CHEAP).space
    recorded = _expected_cheap()[:4]
    proposer = GridProposer(space, None, recorded=recorded)
    rest = []
    while (params := proposer.propose(0, None, None)) is not None:
        rest.append(params)
    assert sorted(map(_key, rest)) == sorted(map(_key, _expected_cheap()[4:]))


def test_grid_refuses_continuous_markers_without_grid_points() -> None:
    space = compile_source(CONTINUOUS).space
    with pytest.raises(BadInputError) as refused:
        grid_branches(space, None)
    message = str(refused.value)
    assert "--grid-points" in message
    assert "rate (uniform(0, 1))" in message and "noise" in message
    assert "units" not in message.split(":", 1)[1], "quniform over a range is discrete"
    assert "depth" not in message.split(":", 1)[1], "randint is discrete"


def test_grid_points_spread_over_each_range() -> None:
    space = compile_source(CONTINUOUS).space
    [branch] = grid_branches(space, 3)
    assert branch["rate"] == [0.0, 0.5, 1.0]
    assert branch["lr"] == pytest.approx([math.exp(-9), math.exp(-6), math.exp(-3)])
    assert branch["units"] == [32, 64, 96, 128]
    assert branch["depth"] == [1, 2, 3]
    assert len(branch["noise"]) == 3 and branch["noise"][1] == pytest.approx(0.0)
    assert grid_size(space, 3) == 3 * 3 * 4 * 3 * 3


def test_sklearn_random_samples_valid_configurations_reproducibly() -> None:
    space = compile_source(CHEAP).space
    first = [SamplerProposer(space, seed=4).propose(n, None, None) for n in range(1, 30)]
    again = [SamplerProposer(space, seed=4).propose(n, None, None) for n in range(1, 30)]
    assert first == again
    for params in first:
        assert space.check(params) == params
        assert ("extra" in params) == (params["kind"] == "deep")
    assert {p["kind"] for p in first} == {"flat", "deep"}


def test_sklearn_random_draws_continuous_markers_inside_their_ranges() -> None:
    space = compile_source(CONTINUOUS).space
    proposer = SamplerProposer(space, seed=1)
    drawn = [proposer.propose(n, None, None) for n in range(1, 200)]
    assert all(0 <= p["rate"] <= 1 for p in drawn)
    assert all(math.exp(-9) <= p["lr"] <= math.exp(-3) for p in drawn)
    assert {p["units"] for p in drawn} <= {32, 64, 96, 128}
    assert {p["depth"] for p in drawn} == {1, 2, 3}
    assert all(isinstance(p["units"], int) and isinstance(p["depth"], int) for p in drawn)


def test_tune_grid_runs_every_combination_exactly_once(
    run_cli, small_data, tracker, tmp_path
) -> None:
    from hypertune.record import find_studies, load_trials

    template = tmp_path / "cheap.py"
    template.write_text(CHEAP)
    first = run_cli("tune", template, "--algo", "grid", "--study", "g", "--max-evals", "5")
    assert first.exit_code == 0, first.output
    again = run_cli("tune", template, "--algo", "grid", "--study", "g")
    assert again.exit_code == 0, again.output
    done = run_cli("tune", template, "--algo", "grid", "--study", "g")
    assert done.exit_code == 0, done.output
    assert "every combination of the grid is recorded" in done.stdout

    [parent] = find_studies(tracker, "g")
    trials = load_trials(tracker, parent.info.run_id)
    assert len(trials) == 9
    assert sorted(_key(t.params) for t in trials) == sorted(map(_key, _expected_cheap()))
    best = min(trials, key=lambda t: t.objective)
    assert best.params == {"kind": "flat", "size": 1}


@pytest.mark.parametrize("algo", ["sklearn-random", "rand", "anneal", "tpe"])
def test_other_algorithms_respect_the_budget(run_cli, tracker, tmp_path, algo) -> None:
    from hypertune.record import find_studies, load_trials

    template = tmp_path / "cheap.py"
    template.write_text(CHEAP)
    result = run_cli("tune", template, "--algo", algo, "--study", algo, "--max-evals", "4")
    assert result.exit_code == 0, result.output
    [parent] = find_studies(tracker, algo)
    assert len(load_trials(tracker, parent.info.run_id)) == 4


def test_grid_without_grid_points_is_refused_before_anything_runs(
    run_cli, tracker, small_data
) -> None:
    from tests.conftest import TEMPLATES

    result = run_cli(
        "tune",
        TEMPLATES / "mlp_space.py",
        "--algo",
        "grid",
        "--data",
        small_data,
        "--val-size",
        "500",
    )
    assert result.exit_code == 2
    assert "--grid-points" in result.stderr
    assert tracker.experiment_id(create=False) is None or not tracker.search("")
