"""Properties of compiled templates, checked over many sampled points and many broken sources.

For each template, every sampled configuration renders to valid Python that holds only the
names of the branches it takes, and the build-style templates really build a Keras model.
Sources made at random, or mutated from good templates, either compile or raise TemplateError,
and compiling never runs them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypertune.errors import TemplateError
from hypertune.space import DISTRIBUTIONS
from hypertune.template import Template, compile_source

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def fixed(max_examples: int, **kwargs: Any) -> settings:
    """Deterministic runs that leave no example database in the repository."""
    return settings(
        max_examples=max_examples, derandomize=True, database=None, deadline=None, **kwargs
    )


CONDITIONAL = '''\
"""Inline and named conditions, with an elif chain and an else branch."""
from math import log

import keras
from keras import layers


def create_model():
    model = keras.Sequential([keras.Input(shape=(8,))])
    model.add(layers.Dense({{choice([4, 8])}}, activation="relu"))
    if {{choice(["three", "four"])}} == "four":
        model.add(layers.Dense({{choice([2, 4])}}, activation={{choice(["relu", "tanh"])}}))
    head = {{choice(["plain", "dropout", "noise"])}}
    if head == "dropout":
        model.add(layers.Dropout({{uniform(0, 0.5)}}))
    elif head == "noise":
        model.add(layers.GaussianNoise({{loguniform(log(1e-3), log(1e-1))}}))
    else:
        model.add(layers.Activation({{choice(["linear", "sigmoid"])}}))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model
'''

NESTED = '''\
"""Choices whose options hold further markers, two levels deep."""
import keras
from keras import layers


def create_model():
    model = keras.Sequential([keras.Input(shape=(8,))])
    model.add(
        {{choice([
            layers.Dense({{choice([4, {{choice([8, 16])}}])}}),
            layers.Dropout({{uniform(0.1, 0.5)}}),
        ])}}
    )
    model.add(layers.Dense(2, activation={{choice(["relu", {{choice(["elu", "selu"])}}])}}))
    model.compile(optimizer={{choice(["adam", "sgd"])}}, loss="mse")
    return model
'''

HYPERAS = '''\
"""Hyperas's layout: data() loads once, model() trains and returns a loss."""
import numpy as np
from hyperas.distributions import choice, conditional, uniform
from hyperopt import STATUS_OK
import keras
from keras import layers


def data():
    x = np.zeros((8, 4), dtype="float32")
    return x, x[:, :1], x, x[:, :1]


def model(x_train, y_train, x_test, y_test):
    network = keras.Sequential([keras.Input(shape=(4,))])
    network.add(layers.Dense({{choice([8, 16])}}, activation="relu"))
    network.add(layers.Dropout({{uniform(0, 0.5)}}))
    if conditional({{choice(["two", "three"])}}) == "three":
        network.add(layers.Dense({{choice([4, 8])}}))
        network.add({{choice([layers.Dropout(0.5), layers.Activation("relu")])}})
    network.add(layers.Dense(1))
    network.compile(loss="mse", optimizer={{choice(["rmsprop", "adam", "sgd"])}})
    network.fit(x_train, y_train, batch_size={{choice([4, 8])}}, epochs=1, verbose=0)
    return {"loss": network.evaluate(x_test, y_test, verbose=0), "status": STATUS_OK}
'''


def mlp_active(params: dict[str, Any]) -> set[str]:
    active = {"batch_size", "n_layers", "activation", "initializer", "batch_norm", "dropout"}
    active |= {"units_1", "optimizer"}
    active |= {"units_2"} if params["n_layers"] >= 2 else set()
    active |= {"units_3"} if params["n_layers"] == 3 else set()
    optimizer = {"sgd": "SGD_1", "adam": "Adam_1", "rmsprop": "RMSprop_1"}[params["optimizer"]]
    return active | {f"{optimizer}.learning_rate"}


def conditional_active(params: dict[str, Any]) -> set[str]:
    active = {"Dense_1.units", "branch_1", "head"}
    if params["branch_1"] == "four":
        active |= {"Dense_2.units", "Dense_2.activation"}
    head = {"dropout": "Dropout_1.rate", "noise": "GaussianNoise_1.stddev"}
    return active | {head.get(params["head"], "Activation_1.activation")}


def nested_active(params: dict[str, Any]) -> set[str]:
    active = {"layer_1", "Dense_2.activation", "optimizer"}
    if params["layer_1"].startswith("layers.Dense"):
        active.add("Dense_1.units")
        if params["Dense_1.units"] != 4:
            active.add("Dense_1.units.1")
    else:
        active.add("Dropout_1.rate")
    if params["Dense_2.activation"] != "relu":
        active.add("Dense_2.activation.1")
    return active


def hyperas_active(params: dict[str, Any]) -> set[str]:
    active = {"Dense_1.units", "Dropout_1.rate", "branch_1", "optimizer", "batch_size"}
    if params["branch_1"] == "three":
        active |= {"Dense_2.units", "layer_4"}
    return active


def mlp_layers(params: dict[str, Any]) -> int:
    return params["n_layers"] + 1


def conditional_layers(params: dict[str, Any]) -> int:
    return 3 if params["branch_1"] == "four" else 2


def nested_layers(params: dict[str, Any]) -> int:
    return 2 if params["layer_1"].startswith("layers.Dense") else 1


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    active: Callable[[dict[str, Any]], set[str]]
    #: How many Dense layers the built model has; None for templates that train themselves.
    dense_layers: Callable[[dict[str, Any]], int] | None

    def compile(self) -> Template:
        return compile_source(self.source, f"{self.name}.py")


CASES = [
    Case("mlp_space", (TEMPLATES / "mlp_space.py").read_text(), mlp_active, mlp_layers),
    Case("conditional", CONDITIONAL, conditional_active, conditional_layers),
    Case("nested", NESTED, nested_active, nested_layers),
    Case("hyperas", HYPERAS, hyperas_active, None),
]
BUILDS = [case for case in CASES if case.dense_layers is not None]

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@fixed(50)
@given(seed=seeds)
def test_sampled_points_render_to_python_holding_only_active_names(case: Case, seed: int):
    template = case.compile()

    params = template.space.sample(1, seed)[0]
    rendered = template.render(params)

    assert set(params) == case.active(params)
    assert template.space.check(params) == params
    ast.parse(rendered, f"{case.name}.py")
    assert "{{" not in rendered


@pytest.mark.parametrize("case", BUILDS, ids=[case.name for case in BUILDS])
@fixed(8)
@given(seed=seeds)
def test_sampled_points_of_build_templates_build_a_keras_model(case: Case, seed: int):
    import keras

    template = case.compile()
    params = template.space.sample(1, seed)[0]
    assert case.dense_layers is not None

    try:
        model = template.load(params)[template.function]()
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        assert isinstance(model, keras.Model)
        assert len(dense) == case.dense_layers(params)
        assert model.optimizer is not None
    finally:
        keras.backend.clear_session()


# -- fuzzing the compiler ------------------------------------------------------------------------

TRAP = """\
open({sentinel!r}, "a").write("module ran")


def data():
    open({sentinel!r}, "a").write("data ran")
    return 1, 2, 3, 4


def create_model():
    open({sentinel!r}, "a").write("model ran")
    units = {{{{choice([8, 16])}}}}
    if {{{{choice(["a", "b"])}}}} == "b":
        rate = {{{{uniform(0, 1)}}}}
    return units
"""

FRAGMENTS = [
    "{{",
    "}}",
    "{{choice([1, 2])}}",
    "{{choice([])}}",
    "{{uniform(5, 1)}}",
    "{{uniform(0, {{choice([1])}})}}",
    "{{quniform(0, 1, 0)}}",
    "{{loguniform(0.01, 0.1)}}",
    "{{pchoice([(0.5, 1), (0.5, 2)])}}",
    "{{randint(3)}}",
    "choice(",
    "uniform(",
    "log(-1)",
    "(-8) ** 0.5",
    "10 ** 400",
    "1e400",
    "name='x'",
    ", name='x'",
    "if ",
    " == ",
    "elif x:",
    "else:",
    ":",
    "[",
    "]",
    "(",
    ")",
    ",",
    "\n",
    "    ",
    "'",
    '"',
    "#",
    "conditional(",
    "for _ in range(",
    "\ndef data():\n    return {{choice([1])}}\n",
    "\ndef create_model():\n    pass\n",
    "lambda: ",
    "*",
    "-",
    "\x00",
    "\t",
    "\u00e9",
    "\ud800",
]

edits = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.integers(min_value=0, max_value=10**6),
        st.integers(min_value=1, max_value=40),
        st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)),
    ),
    min_size=1,
    max_size=5,
)


def mutate(source: str, changes: list[tuple[str, int, int, str]]) -> str:
    for kind, position, length, fragment in changes:
        at = position % (len(source) + 1)
        end = at if kind == "insert" else at + length
        inserted = "" if kind == "delete" else fragment
        source = source[:at] + inserted + source[end:]
    return source


def compiles_or_explains(source: str) -> Template | None:
    """Compile ``source``; a TemplateError is a fine answer, any other exception fails."""
    try:
        template = compile_source(source, "fuzzed.py")
    except TemplateError as error:
        assert str(error).startswith("fuzzed.py:")
        return None
    template.space.to_hyperopt()
    for params in template.space.sample(3, seed=0):
        ast.parse(template.render(params))
    return template


@fixed(150)
@given(source=st.text(max_size=300))
def test_arbitrary_text_compiles_or_raises_template_error(source: str):
    compiles_or_explains(source)


@fixed(300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(["trap", *(case.name for case in CASES)]), changes=edits)
def test_mutated_templates_compile_or_raise_template_error_without_running(
    tmp_path: Path, base: str, changes: list[tuple[str, int, int, str]]
):
    sentinel = tmp_path / "ran.txt"
    sources = {case.name: case.source for case in CASES}
    sources["trap"] = TRAP.format(sentinel=str(sentinel))

    compiles_or_explains(mutate(sources[base], changes))

    assert not sentinel.exists()


def test_the_trap_template_compiles_and_only_running_it_writes(tmp_path: Path):
    sentinel = tmp_path / "ran.txt"
    template = compile_source(TRAP.format(sentinel=str(sentinel)), "trap.py")

    assert template.space.names == ["units", "branch_1", "rate"]
    assert not sentinel.exists()
    template.load({"units": 8, "branch_1": "a"})[template.function]()
    assert sentinel.read_text() == "module ranmodel ran"


small = st.one_of(
    st.integers(min_value=-100, max_value=100),
    st.floats(min_value=-100, max_value=100, allow_subnormal=False),
)
positive = st.floats(min_value=0.01, max_value=50)
options = st.one_of(
    small.map(repr),
    st.sampled_from(["'relu'", "'tanh'", "None", "(3, 3)", "Dense(8)", "a or b", "-1", "[]"]),
    st.just("{{uniform(0, 1)}}"),
    small.map(lambda n: f"Dense({{{{choice([{n!r}, 'other'])}}}})"),
)


@st.composite
def well_formed_arguments(draw: st.DrawFn, distribution: str) -> list[str]:
    if distribution in ("choice", "pchoice"):
        chosen = draw(st.lists(options, min_size=1, max_size=4, unique=True))
        if distribution == "pchoice":
            chosen = [f"({1 / len(chosen)!r}, {option})" for option in chosen]
        return [f"[{', '.join(chosen)}]"]
    values = {}
    for parameter in DISTRIBUTIONS[distribution]:
        if parameter == "high":
            values[parameter] = values["low"] + draw(positive)
        elif parameter in ("sigma", "q"):
            values[parameter] = draw(positive)
        else:
            values[parameter] = draw(small)
    if distribution in ("randint", "uniformint"):
        values = {
            "low": round(values["low"]),
            "high": round(values["low"]) + draw(st.integers(1, 9)),
        }
    return [repr(value) for value in values.values()]


#: Numbers that a marker's reader must refuse with a TemplateError.
BAD_NUMBERS = ["(-8) ** 0.5", "log((-1) ** 0.5)", "log(0)", "sqrt(-1)", "exp(1000)", "1 / 0"]
BAD_NUMBERS += ["0 ** -1", "1e400", "10 ** 400", "width", "None", "'a'", "{{uniform(0, 1)}}"]


@st.composite
def markers(draw: st.DrawFn) -> str:
    """A well-formed marker, or one made wrong in a single way."""
    distribution = draw(st.sampled_from(list(DISTRIBUTIONS)))
    args = draw(well_formed_arguments(distribution))
    keyword = ""
    flaw = draw(st.sampled_from(["none", "number", "drop", "extra", "swap", "name", "keyword"]))
    if flaw == "number":
        args[draw(st.integers(min_value=0, max_value=len(args) - 1))] = draw(
            st.sampled_from(BAD_NUMBERS)
        )
    elif flaw == "drop":
        args.pop()
    elif flaw == "extra":
        args.append("1")
    elif flaw == "swap":
        args.reverse()
    elif flaw == "name":
        distribution = draw(st.sampled_from(["gauss", "Choice", "hp.choice"]))
    elif flaw == "keyword":
        keyword = draw(st.sampled_from([", name=1", ", q=2", ", name=''", ", name='a b'"]))
    return f"{{{{{distribution}({', '.join(args)}{keyword})}}}}"


PLACES = [
    "def create_model():\n    x = {0}\n    y = {1}\n",
    "def create_model():\n    if {0} == 2:\n        y = {1}\n    else:\n        z = {0}\n",
    "def create_model():\n    n = {0}\n    if n in (1, 'a'):\n        return {1}\n",
    "def create_model():\n    model.add(Dense(units={0}, activation={1}))\n",
    "def create_model():\n    for _ in range({0}):\n        f({1})\n",
    "def data():\n    return 1, 2, 3, 4\n\n\ndef model(x_train, y_train, x_test, y_test):\n"
    "    x = [{0}]\n    y = {{'lr': {1}}}\n",
]


@fixed(300)
@given(place=st.sampled_from(PLACES), first=markers(), second=markers())
def test_generated_markers_compile_or_raise_template_error(place: str, first: str, second: str):
    compiles_or_explains(place.format(first, second))
