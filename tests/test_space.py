"""The search space: sampling every distribution, checking params, and the link to hyperopt.

Spaces are compiled from small templates, as users make them; the hyperopt expressions they
produce are compared with the ones a user would write by hand with ``hyperopt.hp``.
"""

from __future__ import annotations

import math
import statistics
from math import log
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, rand
from hyperopt.pyll import Apply, Literal, as_apply, stochastic

from hypertune.errors import ParamsError
from hypertune.space import Hyperparameter, SearchSpace
from hypertune.template import compile_source, compile_template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def space_of(*lines: str) -> SearchSpace:
    """The space of a model function whose body is ``lines``."""
    body = "".join(f"    {line}\n" for line in lines)
    source = f"from math import log\n\n\ndef create_model():\n{body}"
    return compile_source(source, "space.py").space


def one(marker: str) -> Hyperparameter:
    """The hyperparameter of ``value = {{marker}}``."""
    return space_of(f"value = {{{{{marker}}}}}")["value"]


def sampled(marker: str, n: int = 400, seed: int = 7) -> list[Any]:
    return [params["value"] for params in space_of(f"value = {{{{{marker}}}}}").sample(n, seed)]


CONDITIONAL = (
    "n_layers = {{choice([1, 2, 3])}}",
    "units_1 = {{choice([16, 32])}}",
    "if n_layers >= 2:",
    "    units_2 = {{choice([8, 16])}}",
    "if n_layers == 3:",
    "    units_3 = {{choice([4, 8])}}",
    "optimizer = {{choice(['sgd', 'adam'])}}",
    "if optimizer == 'sgd':",
    "    momentum = {{uniform(0, 0.99)}}",
    "else:",
    "    beta = {{loguniform(log(0.5), log(0.999))}}",
)


# -- sampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker, options",
    [
        ("choice([10, 20, 30])", [10, 20, 30]),
        ("choice(['relu', 'tanh', 'elu'])", ["relu", "tanh", "elu"]),
        ("choice([(3, 3), (5, 5)])", [(3, 3), (5, 5)]),
        ("choice([False, True])", [False, True]),
        ("pchoice([(0.25, 'sgd'), (0.75, 'adam')])", ["sgd", "adam"]),
    ],
)
def test_categorical_samples_are_option_values_not_indices(marker: str, options: list[Any]):
    values = sampled(marker)

    assert {repr(v) for v in values} == {repr(o) for o in options}
    assert {type(v) for v in values} == {type(o) for o in options}


def test_pchoice_samples_options_at_their_probabilities():
    values = sampled("pchoice([(0.2, 'rare'), (0.8, 'common')])", n=2000)

    assert 0.74 < values.count("common") / len(values) < 0.86


@pytest.mark.parametrize(
    "marker, low, high",
    [
        ("uniform(-2, 3)", -2.0, 3.0),
        ("uniform(0.0, 0.5)", 0.0, 0.5),
        ("loguniform(log(1e-4), log(1e-1))", 1e-4, 1e-1),
    ],
)
def test_continuous_samples_fill_their_bounds(marker: str, low: float, high: float):
    values = sampled(marker)
    spread = (high - low) / 10

    assert all(type(v) is float for v in values)
    assert all(low <= v <= high for v in values)
    if marker.startswith("log"):
        assert min(values) < low * 2 and max(values) > high / 2
    else:
        assert min(values) < low + spread and max(values) > high - spread


@pytest.mark.parametrize(
    "marker, expected",
    [
        ("quniform(0, 10, 2)", {0, 2, 4, 6, 8, 10}),
        ("quniform(0, 1, 0.25)", {0.0, 0.25, 0.5, 0.75, 1.0}),
        ("randint(3, 7)", {3, 4, 5, 6}),
        ("randint(5)", {0, 1, 2, 3, 4}),
        ("uniformint(2, 8)", {2, 3, 4, 5, 6, 7, 8}),
    ],
)
def test_quantized_samples_take_every_grid_value_and_no_other(marker: str, expected: set[Any]):
    values = sampled(marker)

    assert set(values) == expected


@pytest.mark.parametrize(
    "marker, kind",
    [
        ("quniform(16, 256, 16)", int),
        ("qloguniform(log(8), log(512), 8)", int),
        ("qnormal(64, 16, 1)", int),
        ("qlognormal(3, 1, 4)", int),
        ("randint(0, 100)", int),
        ("uniformint(1, 9)", int),
        ("quniform(0, 10, 2.0)", float),
        ("quniform(0, 1, 0.1)", float),
        ("qlognormal(0, 1, 0.5)", float),
    ],
)
def test_an_integer_q_samples_ints_and_a_float_q_floats(marker: str, kind: type):
    values = sampled(marker)

    assert all(type(v) is kind for v in values)


@pytest.mark.parametrize(
    "marker, q, low, high",
    [
        ("qloguniform(log(8), log(512), 8)", 8, 8, 512),
        ("qlognormal(0, 1, 0.5)", 0.5, 0, math.inf),
        ("qnormal(64, 16, 4)", 4, -math.inf, math.inf),
    ],
)
def test_q_distributions_sample_multiples_of_q(marker: str, q: float, low: float, high: float):
    values = sampled(marker)

    assert all(low <= v <= high for v in values)
    assert all(v / q == round(v / q) for v in values)
    assert len(set(values)) > 5


def test_normal_samples_have_the_given_mean_and_spread():
    values = sampled("normal(5, 2)", n=2000)

    assert abs(statistics.mean(values) - 5) < 0.2
    assert abs(statistics.stdev(values) - 2) < 0.2


def test_lognormal_samples_are_positive_with_the_given_log_mean():
    values = sampled("lognormal(1, 0.5)", n=2000)

    assert all(v > 0 for v in values)
    assert abs(statistics.mean(math.log(v) for v in values) - 1) < 0.05


@pytest.mark.parametrize(
    "marker",
    [
        "choice(['a', 'b'])",
        "pchoice([(0.5, 1), (0.5, 2)])",
        "uniform(-1, 1)",
        "quniform(0, 100, 5)",
        "loguniform(log(1e-3), log(1))",
        "qloguniform(log(1), log(1000), 10)",
        "normal(0, 3)",
        "qnormal(0, 3, 0.5)",
        "lognormal(0, 1)",
        "qlognormal(0, 2, 1)",
        "randint(-5, 5)",
        "uniformint(-3, 3)",
    ],
)
def test_every_sample_passes_check_unchanged(marker: str):
    hyperparameter = one(marker)

    for value in sampled(marker, n=200):
        assert hyperparameter.check(value) == value


def test_sampling_is_reproducible_with_a_seed():
    space = space_of(*CONDITIONAL)

    assert space.sample(20, seed=3) == space.sample(20, seed=3)
    assert space.sample(20, seed=3) != space.sample(20, seed=4)


def test_conditional_samples_hold_exactly_the_names_of_their_branches():
    for params in space_of(*CONDITIONAL).sample(300, seed=1):
        expected = {"n_layers", "units_1", "optimizer"}
        expected |= {"units_2"} if params["n_layers"] >= 2 else set()
        expected |= {"units_3"} if params["n_layers"] == 3 else set()
        expected |= {"momentum"} if params["optimizer"] == "sgd" else {"beta"}
        assert set(params) == expected


# -- checking params ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker, accepted, refused",
    [
        ("uniform(-2, 3)", [-2, 0.5, 3], [-2.5, 3.01, math.nan, math.inf]),
        ("quniform(0, 10, 2)", [0, 4, 10.0], [3, 12, -2]),
        ("loguniform(log(1e-4), log(1e-1))", [1e-4, 0.01, 0.1], [0.0, 0.2, -0.01]),
        ("qloguniform(log(8), log(512), 8)", [8, 64, 512], [4, 520, 12]),
        ("normal(0, 1)", [-50, 0, 1e6], [math.inf, math.nan]),
        ("qnormal(10, 3, 1)", [-4, 10], [10.5, -math.inf]),
        ("lognormal(0, 1)", [0.001, 1e5], [-1, -0.001]),
        ("qlognormal(0, 1, 0.5)", [0, 0.5, 7.5], [-0.5, 0.7]),
        ("randint(3, 7)", [3, 6], [7, 2, 4.5]),
        ("uniformint(2, 8)", [2, 8, 5.0], [9, 1, 2.5]),
        ("choice([16, 32])", [16, 32], [64, "16", None]),
        ("choice(['relu', 'tanh'])", ["relu", "tanh"], ["Relu", 0, None]),
        ("pchoice([(0.2, 'a'), (0.8, 'b')])", ["a", "b"], ["c", 0.2]),
    ],
)
def test_check_accepts_values_in_the_distribution_and_refuses_others(
    marker: str, accepted: list[Any], refused: list[Any]
):
    hyperparameter = one(marker)

    for value in accepted:
        assert hyperparameter.check(value) == value
    for value in refused:
        with pytest.raises(ParamsError, match=r"^value"):
            hyperparameter.check(value)


@pytest.mark.parametrize("value", ["0.5", None, True, [0.5], {"value": 0.5}])
def test_check_refuses_a_number_of_the_wrong_type(value: Any):
    with pytest.raises(ParamsError, match="must be a number"):
        one("uniform(0, 1)").check(value)


@pytest.mark.parametrize(
    "marker, given, expected",
    [
        ("randint(0, 10)", 4.0, 4),
        ("quniform(0, 64, 16)", 32.0, 32),
        ("uniform(0, 10)", 3, 3.0),
        ("choice([16, 32])", 16.0, 16),
        ("choice([(3, 3), (5, 5)])", [5, 5], (5, 5)),
    ],
)
def test_check_returns_the_value_in_the_type_sampling_gives(marker: str, given: Any, expected):
    checked = one(marker).check(given)

    assert checked == expected
    assert type(checked) is type(expected)


def test_check_accepts_a_full_configuration_and_returns_it_in_space_order():
    space = space_of(*CONDITIONAL)
    given = {"optimizer": "adam", "beta": 0.9, "units_1": 16, "n_layers": 2, "units_2": 8}

    checked = space.check(given)

    assert checked == given
    assert list(checked) == ["n_layers", "units_1", "units_2", "optimizer", "beta"]


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"n_layers": 1, "units_1": 16, "optimizer": "adam", "beta": 0.9, "width": 3},
            "unknown hyperparameter 'width'",
        ),
        ({"n_layers": 2, "units_1": 16, "optimizer": "adam", "beta": 0.9}, "missing a value"),
        ({"n_layers": 1, "units_1": 16, "optimizer": "sgd"}, "missing a value for momentum"),
        (
            {"n_layers": 1, "units_1": 16, "units_2": 8, "optimizer": "adam", "beta": 0.9},
            r"units_2 is inactive here \(it needs n_layers in \(2, 3\)\)",
        ),
        (
            {"n_layers": 1, "units_1": 16, "optimizer": "adam", "beta": 0.9, "momentum": 0.5},
            "momentum is inactive here",
        ),
        ({"n_layers": 4, "units_1": 16, "optimizer": "adam", "beta": 0.9}, "not one of"),
        ({"n_layers": 1, "units_1": 16, "optimizer": "sgd", "momentum": 1.5}, "lies outside"),
    ],
)
def test_check_refuses_a_configuration_that_does_not_fit(params: dict[str, Any], message: str):
    with pytest.raises(ParamsError, match=message):
        space_of(*CONDITIONAL).check(params)


# -- round trips -------------------------------------------------------------------------------

MIXED = (
    *CONDITIONAL,
    "kernel = {{choice([(3, 3), (5, 5)])}}",
    "use_bias = {{choice([False, True])}}",
    "initializer = {{choice([None, 'he_normal'])}}",
    "epochs = {{quniform(1, 20, 1)}}",
    "seed = {{randint(0, 1000)}}",
    "width = {{uniformint(1, 4)}}",
    "lr = {{qloguniform(log(1e-4), log(1), 1e-4)}}",
    "shift = {{normal(0, 1e-3)}}",
    "scale = {{lognormal(0, 3)}}",
    "weight = {{pchoice([(0.3, 0.1), (0.7, 1 / 3)])}}",
)


def exactly(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``params`` as comparable text, so that 1 and 1.0, or (3, 3) and [3, 3], differ."""
    return [(name, type(value).__name__, repr(value)) for name, value in params.items()]


def test_to_vals_and_from_vals_round_trip_exactly():
    space = space_of(*MIXED)

    for params in space.sample(200, seed=5):
        vals = space.to_vals(params)
        assert set(vals) == set(space.names)
        assert all(vals[name] == [] for name in space.names if name not in params)
        assert exactly(space.from_vals(vals)) == exactly(params)


def test_to_vals_holds_option_indices_for_choices():
    space = space_of(*MIXED)
    params = space.sample(1, seed=0)[0]

    vals = space.to_vals(params)

    assert vals["optimizer"] == [["sgd", "adam"].index(params["optimizer"])]
    assert vals["kernel"] == [[(3, 3), (5, 5)].index(params["kernel"])]


def test_format_and_parse_round_trip_exactly():
    space = space_of(*MIXED)

    for params in space.sample(200, seed=6):
        texts = space.format(params)
        assert all(isinstance(text, str) for text in texts.values())
        assert exactly(space.parse_strings(texts)) == exactly(params)


@pytest.mark.parametrize(
    "marker, value, text",
    [
        ("uniform(0, 1)", 0.1, "0.1"),
        ("uniform(0, 1)", 1 / 3, "0.3333333333333333"),
        ("loguniform(log(1e-9), log(1))", 1e-07, "1e-07"),
        ("randint(0, 10)", 7, "7"),
        ("choice(['relu', 'tanh'])", "tanh", "tanh"),
        ("choice([(3, 3), (5, 5)])", (5, 5), "[5, 5]"),
        ("choice([False, True])", False, "false"),
        ("choice([None, 'zeros'])", None, "null"),
    ],
)
def test_format_writes_readable_text_that_parse_reads_back(marker: str, value: Any, text: str):
    hyperparameter = one(marker)

    assert hyperparameter.format(value) == text
    assert exactly({"value": hyperparameter.parse(text)}) == exactly({"value": value})


@pytest.mark.parametrize("marker, text", [("uniform(0, 1)", "half"), ("choice([1, 2])", "3")])
def test_parse_refuses_text_that_is_no_value(marker: str, text: str):
    with pytest.raises(ParamsError):
        one(marker).parse(text)


# -- hyperopt as the reference ------------------------------------------------------------------


def literal(node: Apply) -> Any:
    if isinstance(node, Literal):
        return node.obj
    return (node.name, *(literal(child) for child in node.inputs()))


def distributions(expression: Any) -> dict[str, tuple[str, tuple[Any, ...], frozenset[Any]]]:
    """Each hyperopt label of ``expression`` -> (distribution, its literal arguments, branches).

    A branch is the chain of ``(choice label, option index)`` a node stands under; a node shared
    by several options stands under several branches.
    """
    found: dict[str, tuple[str, tuple[Any, ...], set[Any]]] = {}

    def walk(node: Apply, branch: tuple[tuple[str, int], ...]) -> None:
        if node.name == "hyperopt_param":
            label, distribution = node.pos_args
            arguments = tuple(literal(a) for a in distribution.pos_args)
            arguments += tuple((k, literal(v)) for k, v in distribution.named_args)
            entry = found.setdefault(label.obj, (distribution.name, arguments, set()))
            assert entry[:2] == (distribution.name, arguments), f"two nodes for {label.obj}"
            entry[2].add(branch)
            return
        if node.name == "switch":
            index, *options = node.pos_args
            walk(index, branch)
            for i, option in enumerate(options):
                walk(option, (*branch, (index.pos_args[0].obj, i)))
            return
        for child in node.inputs():
            walk(child, branch)

    walk(as_apply(expression), ())
    return {label: (d, a, frozenset(b)) for label, (d, a, b) in found.items()}


def test_mlp_template_compiles_to_the_hyperopt_space_written_by_hand():
    units_2 = hp.choice("units_2", [0, 1, 2, 3])
    units_3 = hp.choice("units_3", [0, 1, 2, 3])
    sgd = {"SGD_1.learning_rate": hp.loguniform("SGD_1.learning_rate", log(1e-3), log(0.3))}
    adam = {"Adam_1.learning_rate": hp.loguniform("Adam_1.learning_rate", log(1e-4), log(1e-2))}
    rmsprop = {
        "RMSprop_1.learning_rate": hp.loguniform("RMSprop_1.learning_rate", log(1e-4), log(1e-2))
    }
    reference = {
        "batch_size": hp.choice("batch_size", [0, 1, 2]),
        "n_layers": hp.choice(
            "n_layers",
            [(0, {}), (1, {"units_2": units_2}), (2, {"units_2": units_2, "units_3": units_3})],
        ),
        "activation": hp.choice("activation", [0, 1]),
        "initializer": hp.choice("initializer", [0, 1]),
        "batch_norm": hp.choice("batch_norm", [0, 1]),
        "dropout": hp.uniform("dropout", 0.0, 0.5),
        "units_1": hp.choice("units_1", [0, 1, 2, 3]),
        "optimizer": hp.choice("optimizer", [(0, sgd), (1, adam), (2, rmsprop)]),
    }

    compiled = compile_template(TEMPLATES / "mlp_space.py").space.to_hyperopt()

    assert distributions(compiled) == distributions(reference)


def test_every_distribution_compiles_to_its_hyperopt_counterpart():
    space = space_of(
        "kind = {{pchoice([(0.4, 'wide'), (0.6, 'deep')])}}",
        "if kind == 'deep':",
        "    depth = {{randint(2, 9)}}",
        "    skip = {{choice([False, True])}}",
        "a = {{uniform(-1, 2)}}",
        "b = {{quniform(0, 100, 5)}}",
        "c = {{loguniform(log(1e-5), log(1e-2))}}",
        "d = {{qloguniform(log(1), log(1000), 10)}}",
        "e = {{normal(0, 0.1)}}",
        "f = {{qnormal(50, 10, 2)}}",
        "g = {{lognormal(0, 1)}}",
        "h = {{qlognormal(1, 0.5, 0.25)}}",
        "i = {{uniformint(1, 6)}}",
    )
    depth = hp.randint("depth", 2, 9)
    reference = {
        "kind": hp.pchoice(
            "kind",
            [
                (0.4, (0, {})),
                (0.6, (1, {"depth": depth, "skip": hp.choice("skip", [0, 1])})),
            ],
        ),
        "a": hp.uniform("a", -1, 2),
        "b": hp.quniform("b", 0, 100, 5),
        "c": hp.loguniform("c", log(1e-5), log(1e-2)),
        "d": hp.qloguniform("d", log(1), log(1000), 10),
        "e": hp.normal("e", 0, 0.1),
        "f": hp.qnormal("f", 50, 10, 2),
        "g": hp.lognormal("g", 0, 1),
        "h": hp.qlognormal("h", 1, 0.5, 0.25),
        "i": hp.uniformint("i", 1, 6),
    }

    assert distributions(space.to_hyperopt()) == distributions(reference)


@pytest.mark.parametrize("template", ["mlp_space.py", "activation.py"])
def test_hyperopt_samples_of_a_compiled_template_pass_check(template: str):
    space = compile_template(TEMPLATES / template).space
    expression = space.to_hyperopt()

    for seed in range(100):
        params = space.flatten(stochastic.sample(expression, rng=np.random.default_rng(seed)))
        assert exactly(space.check(params)) == exactly(params)


def test_to_vals_matches_what_hyperopt_records_for_each_trial():
    space = space_of(*MIXED)
    seen: list[dict[str, Any]] = []

    def objective(sample: dict[str, Any]) -> float:
        seen.append(space.flatten(sample))
        return 0.0

    trials = Trials()
    fmin(
        objective,
        space.to_hyperopt(),
        algo=rand.suggest,
        max_evals=40,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )

    assert len(seen) == 40
    for params, trial in zip(seen, trials.trials, strict=True):
        vals = trial["misc"]["vals"]
        assert space.to_vals(params) == vals
        assert exactly(space.from_vals(vals)) == exactly(params)
