"""The template compiler: names, conditions, loops, rendering, loading, errors and ``space``.

Templates are written inline, compiled from text or from files under ``tmp_path``; the few
tests that build a Keras model import Keras themselves.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hypertune.errors import TemplateError
from hypertune.space import Condition
from hypertune.template import Template, compile_source, compile_template

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"

KERAS = "import keras\nfrom keras import layers\n\n\n"


def model_template(body: str, before: str = "") -> str:
    """A template whose ``create_model`` runs ``body``; ``before`` goes above it.

    Compiling needs no imports, so only templates that are loaded import Keras.
    """
    indented = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return f"{textwrap.dedent(before)}def create_model():\n{indented}\n"


def compile_body(body: str, before: str = "") -> Template:
    return compile_source(model_template(body, before), "template.py")


def names(body: str, before: str = "") -> list[str]:
    return compile_body(body, before).space.names


def conditions(template: Template) -> dict[str, tuple[Condition, ...]]:
    return {hp.name: hp.conditions for hp in template.space}


# -- naming ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            """
            model = keras.Sequential()
            model.add(layers.Dense(64, activation={{choice(['relu', 'tanh'])}}))
            model.add(layers.Dense(units={{choice([32, 64])}}))
            """,
            ["Dense_1.activation", "Dense_2.units"],
        ),
        (
            """
            first = layers.Dense({{choice([8, 16])}})
            convolution = layers.Conv2D(8, 3, {{choice([1, 2])}})
            recurrent = layers.LSTM({{choice([8, 16])}})
            optimizer = keras.optimizers.Adam({{loguniform(-9, -3)}})
            """,
            ["Dense_1.units", "Conv2D_1.strides", "LSTM_1.units", "Adam_1.learning_rate"],
        ),
        (
            """
            model = keras.Sequential([layers.Dense({{choice([8, 16])}})])
            model.add(layers.Dropout({{uniform(0, 0.5)}}))
            model.add(layers.Dense(8, {{choice(['relu', 'tanh'])}}))
            model.add(build({{choice([1, 2])}}, {{choice([3, 4])}}))
            """,
            [
                "Dense_1.units",
                "Dropout_1.rate",
                "Dense_2.activation",
                "build_1.arg0",
                "build_1.arg1",
            ],
        ),
        (
            """
            model.compile(optimizer={{choice(['adam', 'sgd'])}}, loss='mse')
            model.fit(x, y, batch_size={{choice([16, 32])}}, epochs={{quniform(1, 5, 1)}})
            model.fit(x, y, {{choice([64, 128])}})
            """,
            ["optimizer", "batch_size", "epochs", "batch_size_2"],
        ),
        (
            """
            model = keras.Sequential()
            model.add(layers.Dense(16))
            model.add({{choice([layers.Dropout(0.5), layers.Activation('relu')])}})
            model.add({{choice([layers.Dense(8), layers.Dense(4)])}})
            """,
            ["layer_2", "layer_3"],
        ),
        (
            """
            units = {{choice([8, 16])}}
            scale = 2 * {{uniform(0, 1)}}
            rate: float = {{uniform(0, 1)}}
            total = 0
            total += {{randint(0, 4)}}
            self.momentum = {{uniform(0.5, 0.99)}}
            config['decay'] = {{loguniform(-9, -3)}}
            """,
            ["units", "scale", "rate", "total", "momentum", "decay"],
        ),
        (
            """
            settings = {'lr': {{loguniform(-9, -3)}}, 'clip': {{choice([None, 1.0])}}}
            optimizer = keras.optimizers.get({'config': {'beta_1': {{uniform(0.8, 0.99)}}}})
            """,
            ["lr", "clip", "beta_1"],
        ),
        (
            """
            if {{choice(['three', 'four'])}} == 'four':
                pass
            if conditional({{choice([True, False])}}):
                pass
            while {{choice([False])}}:
                pass
            """,
            ["branch_1", "branch_2", "branch_3"],
        ),
        (
            """
            for _ in range({{choice([1, 2, 3])}}):
                pass
            for size in {{choice([(8, 8), (16, 4)])}}:
                pass
            """,
            ["loop_1", "loop_2"],
        ),
        (
            """
            layers.Dense({{choice([8, 16], name='width')}}, activation={{choice(['relu'])}})
            seed = {{randint(0, 100, name='init/seed')}}
            """,
            ["width", "Dense_1.activation", "init/seed"],
        ),
        (
            """
            rate = {{choice([{{uniform(0, 0.5)}}, 0.0])}}
            print({{choice([1, 2])}} + {{choice([3, 4])}})
            [{{choice([1, 2])}}]
            """,
            ["rate", "rate.0", "print_1.arg0", "print_1.arg0_2", "param_1"],
        ),
    ],
    ids=[
        "keyword",
        "positional-known",
        "positional",
        "compile-fit",
        "model-add",
        "assignment",
        "dict-key",
        "if-test",
        "for-header",
        "explicit",
        "nested-fallback",
    ],
)
def test_markers_are_named_after_where_they_stand(body: str, expected: list[str]):
    assert names(body) == expected


def test_positional_markers_take_the_parameter_names_of_the_templates_own_functions():
    helper = """
    def block(width, depth=1):
        return [layers.Dense(width) for _ in range(depth)]


    def Dense(size):
        return layers.Dense(size)


    """

    assert names(
        "return block({{choice([16, 32])}}, {{choice([1, 2])}}) + [Dense({{choice([8, 4])}})]",
        before=helper,
    ) == ["block_1.width", "block_1.depth", "Dense_1.size"]


def test_a_marker_inside_a_choice_option_is_named_after_its_call():
    template = compile_body(
        """
        model = keras.Sequential()
        model.add({{choice([layers.Dropout({{uniform(0, 0.5)}}), layers.Activation('relu')])}})
        """
    )

    assert template.space.names == ["layer_1", "Dropout_1.rate"]


STABLE = """
model = keras.Sequential([keras.Input(shape=(784,))])
model.add(layers.Dense({{choice([64, 128])}}, activation={{choice(['relu', 'tanh'])}}))
model.add(layers.Dropout({{uniform(0, 0.5)}}))
if {{choice(['two', 'three'])}} == 'three':
    model.add(layers.Dense(units={{choice([32, 64])}}))
for _ in range({{choice([0, 1])}}):
    model.add(layers.Dense(16))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer={{choice(['adam', 'sgd'])}}, loss="categorical_crossentropy")
return model
"""
STABLE_NAMES = [
    "Dense_1.units",
    "Dense_1.activation",
    "Dropout_1.rate",
    "branch_1",
    "Dense_2.units",
    "loop_1",
    "optimizer",
]


@pytest.mark.parametrize(
    "old, new",
    [
        ('activation="softmax"', 'activation="linear"'),
        ("shape=(784,)", "shape=(28 * 28,)"),
        ("Dense(16)", "Dense(32, use_bias=False)"),
        ('loss="categorical_crossentropy"', 'loss="mse", metrics=["accuracy"]'),
        ("choice([64, 128])", "choice([32, 64, 128, 256])"),
        ("uniform(0, 0.5)", "uniform(0.1, 0.6)"),
        ("model = keras", "# a comment\nprint('building')\nmodel = keras"),
        ("return model", "# the end\nreturn model  # trailing comment"),
        ("\nfor _ in", "\n\n# a loop follows\n\nfor _ in"),
    ],
)
def test_names_survive_unrelated_edits(old: str, new: str):
    edited = STABLE.replace(old, new)

    assert edited != STABLE
    assert names(STABLE) == STABLE_NAMES
    assert names(edited) == STABLE_NAMES


def test_names_survive_edits_in_another_function():
    helper = """
    def helper():
        extra = layers.Dense(4)
        return [layers.Dense(8), layers.Dropout(0.1)]


    """

    assert names(STABLE, before=helper) == STABLE_NAMES


def test_explicit_names_survive_reordering():
    body = """
    a = {{uniform(0, 1, name='alpha')}}
    b = {{choice([1, 2], name='beta')}}
    """
    swapped = "\n".join(reversed(textwrap.dedent(body).strip().splitlines()))

    described = {hp.name: hp.describe() for hp in compile_body(body).space}
    assert described == {"alpha": "uniform(0, 1)", "beta": "choice([1, 2])"}
    assert {hp.name: hp.describe() for hp in compile_body(swapped).space} == described
    assert names(swapped) == ["beta", "alpha"]


def test_names_that_would_repeat_get_a_suffix():
    template = compile_body(
        """
        units = {{choice([8, 16])}}
        units = {{choice([32, 64])}}
        x = {{uniform(0, 1, name='units_2')}}
        """
    )

    assert template.space.names == ["units", "units_3", "units_2"]


# -- conditions --------------------------------------------------------------------------------


def test_an_inline_choice_in_an_if_test_gates_its_branch():
    template = compile_body(
        """
        if {{choice(['three', 'four'])}} == 'four':
            extra = {{choice([8, 16])}}
        else:
            other = {{uniform(0, 1)}}
        after = {{uniform(0, 1)}}
        """
    )

    assert conditions(template) == {
        "branch_1": (),
        "extra": (Condition("branch_1", (1,)),),
        "other": (Condition("branch_1", (0,)),),
        "after": (),
    }
    assert template.space.describe_condition(template.space["extra"]) == "branch_1 == 'four'"


def test_hyperas_conditional_wrapper_gates_like_a_bare_choice():
    template = compile_body(
        """
        if conditional({{choice(['three', 'four'])}}) == 'four':
            extra = {{choice([8, 16])}}
        """
    )

    assert conditions(template)["extra"] == (Condition("branch_1", (1,)),)


def test_a_name_bound_once_to_a_choice_gates_the_ifs_that_test_it():
    template = compile_body(
        """
        n_layers = {{choice([1, 2, 3])}}
        if n_layers >= 2:
            units_2 = {{choice([8, 16])}}
        if n_layers == 3:
            units_3 = {{choice([8, 16])}}
        if n_layers in (1, 3):
            odd = {{uniform(0, 1)}}
        if not n_layers == 1:
            deep = {{uniform(0, 1)}}
        """
    )

    assert conditions(template) == {
        "n_layers": (),
        "units_2": (Condition("n_layers", (1, 2)),),
        "units_3": (Condition("n_layers", (2,)),),
        "odd": (Condition("n_layers", (0, 2)),),
        "deep": (Condition("n_layers", (1, 2)),),
    }


def test_an_elif_chain_gives_each_branch_its_own_options():
    template = compile_body(
        """
        optimizer = {{choice(['sgd', 'adam', 'rmsprop', 'nadam'])}}
        if optimizer == 'sgd':
            momentum = {{uniform(0, 0.99)}}
        elif optimizer in ('adam', 'nadam'):
            beta = {{uniform(0.8, 0.999)}}
        elif optimizer == 'nadam':
            never = {{uniform(0, 1)}}
        else:
            rho = {{uniform(0.8, 0.99)}}
        """
    )

    assert conditions(template) == {
        "optimizer": (),
        "momentum": (Condition("optimizer", (0,)),),
        "beta": (Condition("optimizer", (1, 3)),),
        "never": (Condition("optimizer", ()),),
        "rho": (Condition("optimizer", (2,)),),
    }
    assert any("never runs for any option" in w for w in template.warnings)


def test_conditions_nest_along_nested_ifs():
    template = compile_body(
        """
        depth = {{choice([1, 2])}}
        if depth == 2:
            kind = {{choice(['dense', 'dropout'])}}
            if kind == 'dropout':
                rate = {{uniform(0, 0.5)}}
        """
    )
    space = template.space

    assert conditions(template)["rate"] == (
        Condition("depth", (1,)),
        Condition("kind", (1,)),
    )
    for params in space.sample(200, seed=2):
        expected = params["depth"] == 2 and params.get("kind") == "dropout"
        assert ("rate" in params) == expected


def test_a_marker_inside_a_choice_option_is_active_only_with_that_option():
    template = compile_body(
        """
        model = keras.Sequential()
        model.add({{choice([layers.Dropout({{uniform(0, 0.5)}}), layers.Dense({{choice([{{choice([4, 8])}}, 16])}})])}})
        """  # noqa: E501
    )

    assert conditions(template) == {
        "layer_1": (),
        "Dropout_1.rate": (Condition("layer_1", (0,)),),
        "Dense_1.units": (Condition("layer_1", (1,)),),
        "Dense_1.units.0": (Condition("layer_1", (1,)), Condition("Dense_1.units", (0,))),
    }


@pytest.mark.parametrize(
    "body",
    [
        """
        n = {{choice([1, 2])}}
        n = n + 1
        if n == 2:
            units = {{choice([8, 16])}}
        """,
        """
        n = {{choice([1, 2])}}
        if n == 2 and flag:
            units = {{choice([8, 16])}}
        """,
        """
        n = {{uniform(0, 3)}}
        if n > 2:
            units = {{choice([8, 16])}}
        """,
        """
        n = {{choice([width, 2])}}
        if n == 2:
            units = {{choice([8, 16])}}
        """,
    ],
    ids=["assigned-twice", "other-name", "not-a-choice", "not-literal"],
)
def test_ifs_that_are_not_a_literal_test_on_one_choice_do_not_gate(body: str):
    assert conditions(compile_body(body))["units"] == ()


def test_a_module_level_choice_gates_ifs_in_the_model_function():
    template = compile_body(
        """
        if n == 2:
            units = {{choice([8, 16])}}
        """,
        before="n = {{choice([1, 2])}}\n\n\n",
    )

    assert conditions(template)["units"] == (Condition("n", (1,)),)


@pytest.mark.parametrize("shadow", ["n = 2", "n: int = 2", "for n in (2,):\n    pass"])
def test_a_local_name_hides_a_module_level_choice_of_the_same_name(shadow: str):
    template = compile_body(
        f"""
{textwrap.indent(shadow, "        ")}
        if n == 2:
            units = {{{{choice([8, 16])}}}}
        return units
        """,
        before="n = {{choice([1, 2])}}\n\n\n",
    )

    assert conditions(template)["units"] == ()
    assert "units = 16" in template.render({"n": 1, "units": 16})


# -- loops -------------------------------------------------------------------------------------


def test_a_marker_in_a_loop_is_one_hyperparameter_used_on_every_pass():
    template = compile_body(
        """
        sizes = []
        for _ in range(3):
            sizes.append({{choice([8, 16])}})
        return sizes
        """
    )

    assert template.space.names == ["append_1.arg0"]
    created = template.load({"append_1.arg0": 16})[template.function]()
    assert created == [16, 16, 16]


def test_a_choice_can_bound_a_loop():
    template = compile_body(
        """
        sizes = []
        for _ in range({{choice([1, 2, 3])}}):
            sizes.append({{choice([8, 16], name='size')}})
        return sizes
        """
    )

    assert conditions(template) == {"loop_1": (), "size": ()}
    for count in (1, 2, 3):
        created = template.load({"loop_1": count, "size": 8})[template.function]()
        assert created == [8] * count


# -- rendering ---------------------------------------------------------------------------------

LAYOUT = '''\
"""A template with comments and odd layout."""
def create_model():
    # width of the hidden layer
    units = {{choice([64, 128])}}   # try both
    activation = {{choice(["relu", 'tanh'])}}

    rate = {{uniform(0, 0.5)}}
    return (units,
            activation, rate)  # keep this line
'''


def test_render_substitutes_values_and_keeps_everything_else():
    template = compile_source(LAYOUT, "layout.py")

    rendered = template.render({"units": 128, "activation": "relu", "rate": 0.25})

    assert rendered == (
        LAYOUT.replace("{{choice([64, 128])}}", "128")
        .replace("""{{choice(["relu", 'tanh'])}}""", '"relu"')
        .replace("{{uniform(0, 0.5)}}", "0.25")
    )


@pytest.mark.parametrize(
    "source",
    [
        LAYOUT.replace("\n", "\r\n"),
        LAYOUT.replace("# width of", "# width\f of"),
        LAYOUT.replace("# width of", "# width\u2028 of"),
        LAYOUT.replace("# try both", "# try\x85both\x1c"),
        LAYOUT.replace("    rate =", "\f\n    rate ="),
    ],
    ids=["crlf", "form-feed", "line-separator", "next-line", "form-feed-line"],
)
def test_render_is_exact_with_characters_python_does_not_end_lines_at(source: str):
    template = compile_source(source, "layout.py")

    rendered = template.render({"units": 64, "activation": "tanh", "rate": 0.5})

    assert rendered == (
        source.replace("{{choice([64, 128])}}", "64")
        .replace("""{{choice(["relu", 'tanh'])}}""", "'tanh'")
        .replace("{{uniform(0, 0.5)}}", "0.5")
    )


def test_render_fills_a_chosen_option_with_its_own_markers():
    template = compile_body(
        "model.add({{choice([layers.Dropout({{uniform(0, 0.5)}}), layers.Activation('relu')])}})"
    )

    dropout = "layers.Dropout({{uniform(0, 0.5)}})"
    first = template.render({"layer_1": dropout, "Dropout_1.rate": 0.3})
    second = template.render({"layer_1": "layers.Activation('relu')"})

    assert "    model.add(layers.Dropout(0.3))\n" in first
    assert "    model.add(layers.Activation('relu'))\n" in second


def test_render_writes_none_for_an_inactive_marker():
    template = compile_body(
        """
        if {{choice(['a', 'b'])}} == 'b':
            extra = {{uniform(0, 1)}}
        """
    )

    assert "extra = None" in template.render({"branch_1": "a"})


@pytest.mark.parametrize(
    "expression, value, expected",
    [
        ("{{uniform(-1, 1, name='v')}}", -0.5, "-0.5"),
        ("{{uniform(-1, 1, name='v')}} ** 2", -0.5, "(-0.5) ** 2"),
        ("2 - {{uniform(-1, 1, name='v')}}", -0.5, "2 - (-0.5)"),
        ("-{{uniform(-1, 1, name='v')}}", -0.5, "-(-0.5)"),
        ("{{uniform(-1, 1, name='v')}} ** 2", 0.5, "0.5 ** 2"),
        ("{{choice([-2, 3], name='v')}} ** 2", -2, "(-2) ** 2"),
        ("{{choice([1 + 1, 3], name='v')}} * 4", "1 + 1", "(1 + 1) * 4"),
        ("{{choice([-2, 3], name='v')}}.bit_length()", -2, "(-2).bit_length()"),
        ("abs({{randint(-4, 4, name='v')}})", -3, "abs(-3)"),
    ],
)
def test_render_parenthesizes_values_where_precedence_needs_it(
    expression: str, value: Any, expected: str
):
    template = compile_body(f"value = {expression}\nreturn value")

    rendered = template.render({"v": value})

    assert f"    value = {expected}\n" in rendered
    assert template.load({"v": value})[template.function]() == eval(expected)


# -- loading -----------------------------------------------------------------------------------


def test_load_gives_a_namespace_whose_model_function_builds_the_chosen_model():
    import keras

    template = compile_body(
        """
        model = keras.Sequential([keras.Input(shape=(4,))])
        model.add(layers.Dense({{choice([2, 3])}}, activation={{choice(['relu', 'tanh'])}}))
        model.compile(optimizer={{choice(['adam', 'sgd'])}}, loss='mse')
        return model
        """,
        before=KERAS,
    )
    params = {"Dense_1.units": 3, "Dense_1.activation": "tanh", "optimizer": "sgd"}

    try:
        model = template.load(params)["create_model"]()
        assert isinstance(model, keras.Model)
        assert model.layers[0].units == 3
        assert model.layers[0].get_config()["activation"] == "tanh"
        assert model.optimizer.__class__.__name__ == "SGD"
    finally:
        keras.backend.clear_session()


HYPERAS = '''\
"""A template in Hyperas's style: data() once, model() trains and reports a loss."""
import numpy as np
from hyperas.distributions import choice, uniform, conditional
from hyperopt import STATUS_OK
import keras


def data():
    x = np.linspace(0, 1, 32, dtype="float32").reshape(8, 4)
    y = x.sum(axis=1, keepdims=True)
    return x, y, x, y


def model(x_train, y_train, x_test, y_test):
    network = keras.Sequential([keras.Input(shape=(4,))])
    network.add(keras.layers.Dense({{choice([2, 4])}}))
    if conditional({{choice(['one', 'two'])}}) == 'two':
        network.add(keras.layers.Dense(2, activation={{choice(['relu', 'tanh'])}}))
    network.add(keras.layers.Dense(1))
    network.compile(optimizer=keras.optimizers.SGD({{uniform(0.001, 0.01)}}), loss="mse")
    network.fit(x_train, y_train, batch_size={{choice([4, 8])}}, epochs=1, verbose=0)
    loss = network.evaluate(x_test, y_test, verbose=0)
    return {"loss": loss, "status": STATUS_OK}
'''


def test_a_hyperas_template_compiles_and_runs_without_hyperas():
    import keras

    template = compile_source(HYPERAS, "hyperas_style.py")
    params = {
        "Dense_1.units": 4,
        "branch_1": "two",
        "Dense_2.activation": "relu",
        "SGD_1.learning_rate": 0.005,
        "batch_size": 8,
    }

    assert template.function == "model"
    assert template.takes_data and template.has_data_function
    assert template.space.check(params) == params
    try:
        namespace = template.load(params)
        result = namespace["model"](*namespace["data"]())
        assert result["status"] == "ok"
        assert result["loss"] >= 0
    finally:
        keras.backend.clear_session()


def test_compiling_runs_no_line_of_the_template(tmp_path: Path):
    sentinel = tmp_path / "ran.txt"
    path = tmp_path / "trap.py"
    path.write_text(
        f"open({str(sentinel)!r}, 'w').write('module')\n\n\n"
        "def create_model():\n"
        f"    open({str(sentinel)!r}, 'w').write('model')\n"
        "    return {{choice([1, 2])}}\n"
    )

    template = compile_template(path)

    assert template.space.names == ["param_1"]
    assert not sentinel.exists()
    template.load({"param_1": 1})
    assert sentinel.read_text() == "module"


# -- errors ------------------------------------------------------------------------------------

BAD_TEMPLATES = {
    "syntax": ("def create_model(:\n    pass\n", 1, "invalid Python"),
    "no-model-function": ("import keras\n\n\ndef build():\n    pass\n", 1, "no model function"),
    "unknown-distribution": ("    x = {{gauss(0, 1)}}\n", 5, "unknown distribution 'gauss'"),
    "empty-choice": ("    x = {{choice([])}}\n", 5, "needs at least one option"),
    "low-above-high": ("    x = {{uniform(5, 1)}}\n", 5, "needs low < high"),
    "zero-q": ("    x = {{quniform(0, 10, 0)}}\n", 5, "needs q > 0"),
    "negative-q": ("    x = {{quniform(0, 10, -1)}}\n", 5, "needs q > 0"),
    "marker-in-data": (
        "def data():\n    x = 1\n    return {{choice([1, 2])}}\n\n\ndef create_model():\n"
        "    pass\n",
        3,
        "markers are not allowed in data()",
    ),
    "nested-in-number": (
        "    x = {{uniform(0, {{choice([1, 2])}})}}\n",
        5,
        "a marker inside the arguments of uniform()",
    ),
    "name-collision": (
        "    x = {{uniform(0, 1, name='rate')}}\n    y = {{uniform(0, 2, name='rate')}}\n",
        6,
        "the name 'rate' is already used by the marker at line 5",
    ),
    "duplicate-options": ("    x = {{choice([1, 2,\n        1])}}\n", 6, "appears twice"),
    "duplicate-strings": ("    x = {{choice(['a', \"a\"])}}\n", 5, "appears twice"),
    "complex-number": ("    x = {{uniform((-8) ** 0.5, 1)}}\n", 5, "not a real number"),
    "label-argument": ("    x = {{uniform('lr', 0, 1)}}\n", 5, "takes no label"),
    "pchoice-sum": ("    x = {{pchoice([(0.5, 1), (0.4, 2)])}}\n", 5, "must sum to 1"),
    "randint-fraction": ("    x = {{randint(0.5, 3)}}\n", 5, "whole-number bounds"),
    "wrong-arity": ("    x = {{normal(0)}}\n", 5, "takes 2 numbers"),
    "not-a-number": ("    x = {{uniform(0, width)}}\n", 5, "expected a number"),
}


def bad_source(body: str) -> str:
    """Bodies that start indented go into a model function opened on line 4."""
    if body.startswith("    "):
        return f"import keras\n\n\ndef create_model():\n{body}"
    return body


@pytest.mark.parametrize(
    "body, line, message", list(BAD_TEMPLATES.values()), ids=list(BAD_TEMPLATES)
)
def test_a_bad_template_raises_template_error_at_its_line(
    tmp_path: Path, body: str, line: int, message: str
):
    path = tmp_path / "bad.py"
    path.write_text(bad_source(body))

    with pytest.raises(TemplateError) as raised:
        compile_template(path)

    assert re.match(rf"{re.escape(str(path))}:{line}:\d+: ", str(raised.value))
    assert message in str(raised.value)
    assert raised.value.line == line


def test_an_error_points_at_the_column_of_the_bad_call():
    with pytest.raises(TemplateError) as raised:
        compile_source("def create_model():\n    x = 1 + {{gauss(0, 1)}}\n", "t.py")

    assert str(raised.value).startswith("t.py:2:15: ")


def test_a_missing_function_asked_for_by_name_is_an_error():
    with pytest.raises(TemplateError, match="no function named 'build'"):
        compile_source("def create_model():\n    pass\n", "t.py", function="build")


def test_a_template_that_is_not_utf8_is_an_error(tmp_path: Path):
    path = tmp_path / "latin1.py"
    path.write_bytes("# caf\xe9\ndef create_model():\n    pass\n".encode("latin-1"))

    with pytest.raises(TemplateError, match=r":1:1: the template is not UTF-8"):
        compile_template(path)


def test_loguniform_over_raw_values_is_a_warning_not_an_error():
    template = compile_source("def create_model():\n    lr = {{loguniform(0.001, 0.1)}}\n", "t.py")

    assert template.space.names == ["lr"]
    assert len(template.warnings) == 1
    assert template.warnings[0].startswith("t.py:2:")
    assert "loguniform(log(0.001), log(0.1))" in template.warnings[0]


def test_loguniform_over_logs_gives_no_warning():
    template = compile_body("lr = {{loguniform(log(0.001), log(0.1))}}")

    assert template.warnings == ()


# -- the space command -------------------------------------------------------------------------


def space_command(*args: str | Path) -> Any:
    from hypertune.cli import cli

    return CliRunner().invoke(cli, ["space", *map(str, args)])


def test_space_prints_a_table_of_the_hyperparameters():
    result = space_command(TEMPLATES / "mlp_space.py")
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    rows = {line.split("|")[1].strip(): line for line in lines[2:]}

    assert result.exit_code == 0
    assert result.stdout.startswith("| name ")
    assert list(rows) == compile_template(TEMPLATES / "mlp_space.py").space.names
    assert "n_layers in (2, 3)" in rows["units_2"]
    assert "optimizer == 'adam'" in rows["Adam_1.learning_rate"]
    assert "13 hyperparameters" in result.stdout


def test_space_sample_prints_reproducible_configurations_as_json():
    space = compile_template(TEMPLATES / "mlp_space.py").space

    first = space_command(TEMPLATES / "mlp_space.py", "--sample", "5", "--seed", "11")
    again = space_command(TEMPLATES / "mlp_space.py", "--sample", "5", "--seed", "11")
    other = space_command(TEMPLATES / "mlp_space.py", "--sample", "5", "--seed", "12")
    samples = json.loads(first.stdout)

    assert first.exit_code == 0
    assert len(samples) == 5
    assert all(space.check(params) == params for params in samples)
    assert again.stdout == first.stdout
    assert other.stdout != first.stdout


def test_space_render_prints_the_filled_template(tmp_path: Path):
    path = tmp_path / "layout.py"
    path.write_text(LAYOUT)

    result = space_command(path, "--render", "--seed", "4")
    header, params_text = result.stderr.strip().split(" with ", 1)
    params = json.loads(params_text)

    assert result.exit_code == 0
    assert header == f"# {path}"
    assert result.stdout == compile_template(path).render(params)
    assert "# width of the hidden layer" in result.stdout
    assert "{{" not in result.stdout
    ast.parse(result.stdout)


def test_space_json_describes_every_hyperparameter():
    result = space_command(TEMPLATES / "mlp_space.py", "--json")
    described = {entry["name"]: entry for entry in json.loads(result.stdout)}

    assert result.exit_code == 0
    assert list(described) == compile_template(TEMPLATES / "mlp_space.py").space.names
    assert described["units_3"]["options"] == [32, 64, 128, 256]
    assert described["units_3"]["active_when"] == [{"name": "n_layers", "options": [2]}]
    assert described["dropout"]["args"] == {"low": 0.0, "high": 0.5}


@pytest.mark.parametrize("body", ["    x = {{uniform(5, 1)}}\n", "def create_model(:\n"])
def test_space_reports_a_bad_template_in_one_line_and_exits_with_2(tmp_path: Path, body: str):
    path = tmp_path / "bad.py"
    path.write_text(bad_source(body))

    result = space_command(path)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"Error: {path}:")
