"""The search space a template compiles into, and its link to hyperopt.

A :class:`SearchSpace` is a flat list of :class:`Hyperparameter` objects. Conditional ones carry
the chain of choices that must hold for them to be active; the hyperopt expression built from it
nests those choices (``hp.choice`` over branches), so TPE models each branch's parameters only
from the trials that took the branch.

Everything user-facing works with *values* (``'relu'``, ``512``); hyperopt's choice indices stay
inside :meth:`SearchSpace.to_vals` and :meth:`SearchSpace.from_vals`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypertune.errors import ParamsError

Params = dict[str, Any]

#: The distributions a marker may call, with the names of their numeric arguments.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "choice": (),
    "pchoice": (),
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
    "randint": ("low", "high"),
    "uniformint": ("low", "high"),
}

CATEGORICAL = frozenset({"choice", "pchoice"})


@dataclass(frozen=True)
class Option:
    """One option of a ``choice``: its code as written and the value users see.

    ``value`` is the Python value of a literal option (``'relu'``, ``512``, ``(3, 3)``) and the
    source text of any other option (``"Dropout(0.5)"``).
    """

    source: str
    value: Any
    literal: bool
    probability: float | None = None


@dataclass(frozen=True)
class Condition:
    """Active only while the choice ``name`` takes one of the options at ``indices``."""

    name: str
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Hyperparameter:
    """One marker of a template: a named distribution, maybe active only on some branches."""

    name: str
    distribution: str
    args: Mapping[str, float] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    conditions: tuple[Condition, ...] = ()
    integer: bool = False
    line: int = 0
    col: int = 0

    @property
    def categorical(self) -> bool:
        return self.distribution in CATEGORICAL

    def describe(self) -> str:
        """The distribution as it reads in a template, e.g. ``loguniform(-9.2, -2.3)``."""
        if self.categorical:
            if self.distribution == "pchoice":
                inner = ", ".join(f"({o.probability:g}, {o.source})" for o in self.options)
            else:
                inner = ", ".join(o.source for o in self.options)
            return f"{self.distribution}([{inner}])"
        numbers = ", ".join(_format_number(v) for v in self.args.values())
        return f"{self.distribution}({numbers})"

    def option_index(self, value: Any) -> int | None:
        """The index of the option whose value is ``value``, or None."""
        for exact in (True, False):
            for index, option in enumerate(self.options):
                if _same_value(option.value, value, exact):
                    return index
        return None

    def value_from_raw(self, raw: Any) -> Any:
        """Turn what hyperopt sampled (an index, a float) into the value users see."""
        if self.categorical:
            return self.options[int(raw)].value
        number = float(raw)
        return round(number) if self.integer and math.isfinite(number) else number

    def raw_from_value(self, value: Any) -> int | float:
        """The inverse of :meth:`value_from_raw`, for hyperopt's trial records."""
        if self.categorical:
            index = self.option_index(value)
            if index is None:
                raise ParamsError(self._not_an_option(value))
            return index
        return float(value)

    def check(self, value: Any) -> Any:
        """Return ``value`` normalized if it lies in this distribution, else raise ParamsError."""
        if self.categorical:
            index = self.option_index(value)
            if index is None:
                raise ParamsError(self._not_an_option(value))
            return self.options[index].value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(
                f"{self.name} must be a number from {self.describe()}, "
                f"but got {value!r} ({type(value).__name__})"
            )
        number = float(value)
        low, high = self.bounds()
        if not math.isfinite(number) or not (low - 1e-9 <= number <= high + 1e-9):
            raise ParamsError(
                f"{self.name} = {value!r} lies outside {self.describe()}, whose values run "
                f"from {_format_number(low)} to {_format_number(high)}"
            )
        if self.integer and number != round(number):
            raise ParamsError(f"{self.name} must be a whole number, but got {value!r}")
        q = self.args.get("q")
        if q and abs(number / q - round(number / q)) > 1e-6:
            raise ParamsError(f"{self.name} = {value!r} is not a multiple of q={q:g}")
        return round(number) if self.integer else number

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value this distribution can produce."""
        a = self.args
        d = self.distribution
        q = a.get("q", 0.0)
        if d in ("uniform", "uniformint"):
            return a["low"], a["high"]
        if d == "quniform":
            return _round_to(a["low"], q), _round_to(a["high"], q)
        if d == "loguniform":
            return math.exp(a["low"]), math.exp(a["high"])
        if d == "qloguniform":
            return _round_to(math.exp(a["low"]), q), _round_to(math.exp(a["high"]), q)
        if d == "randint":
            return a["low"], a["high"] - 1
        if d in ("lognormal", "qlognormal"):
            return 0.0, math.inf
        return -math.inf, math.inf

    def format(self, value: Any) -> str:
        """The value as MLflow stores it (a string that :meth:`parse` reads back exactly)."""
        return format_value(value)

    def parse(self, text: str) -> Any:
        """Read back a value written by :meth:`format`."""
        if self.categorical:
            for option in self.options:
                if self.format(option.value) == text:
                    return option.value
            raise ParamsError(self._not_an_option(text))
        try:
            number = float(text)
        except ValueError:
            raise ParamsError(f"{self.name} = {text!r} is not a number") from None
        return round(number) if self.integer else number

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, as logged to MLflow with a study."""
        described: dict[str, Any] = {
            "name": self.name,
            "distribution": self.distribution,
            "line": self.line,
        }
        if self.categorical:
            described["options"] = [_jsonable(o.value) for o in self.options]
            if self.distribution == "pchoice":
                described["probabilities"] = [o.probability for o in self.options]
        else:
            described["args"] = dict(self.args)
        if self.conditions:
            described["active_when"] = [
                {"name": c.name, "options": list(c.indices)} for c in self.conditions
            ]
        return described

    def _not_an_option(self, value: Any) -> str:
        choices = ", ".join(repr(o.value) for o in self.options)
        return f"{self.name} = {value!r} is not one of its options: {choices}"


class SearchSpace:
    """The hyperparameters of a template, in source order."""

    def __init__(self, hyperparameters: tuple[Hyperparameter, ...] | list[Hyperparameter]):
        self.hyperparameters = tuple(hyperparameters)
        self._by_name = {hp.name: hp for hp in self.hyperparameters}

    def __len__(self) -> int:
        return len(self.hyperparameters)

    def __iter__(self) -> Iterator[Hyperparameter]:
        return iter(self.hyperparameters)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Hyperparameter:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [hp.name for hp in self.hyperparameters]

    def describe_condition(self, hp: Hyperparameter) -> str:
        """The condition under which ``hp`` is active, e.g. ``n_layers in (2, 3)``."""
        parts = []
        for condition in hp.conditions:
            parent = self[condition.name]
            values = [parent.options[i].value for i in condition.indices]
            if len(values) == 1:
                parts.append(f"{condition.name} == {values[0]!r}")
            else:
                parts.append(f"{condition.name} in ({', '.join(repr(v) for v in values)})")
        return " and ".join(parts) or "always"

    def is_active(self, hp: Hyperparameter, params: Mapping[str, Any]) -> bool:
        """Whether ``hp`` is sampled for ``params`` (whose conditioning choices must be set)."""
        for condition in hp.conditions:
            if condition.name not in params:
                return False
            index = self[condition.name].option_index(params[condition.name])
            if index not in condition.indices:
                return False
        return True

    def check(self, params: Mapping[str, Any]) -> Params:
        """Validate a full configuration given by a user; return it normalized, in space order.

        Every active hyperparameter must be given; unknown names are refused, and so are names
        whose branch is not taken.
        """
        unknown = sorted(set(params) - set(self._by_name))
        if unknown:
            raise ParamsError(
                f"unknown hyperparameter {', '.join(map(repr, unknown))}; this template's "
                f"names are: {', '.join(self.names) or '(none)'}"
            )
        checked: Params = {}
        for hp in self.hyperparameters:
            if not self.is_active(hp, checked):
                if hp.name in params:
                    raise ParamsError(
                        f"{hp.name} is inactive here (it needs {self.describe_condition(hp)}); "
                        "remove it from the params"
                    )
                continue
            if hp.name not in params:
                raise ParamsError(f"missing a value for {hp.name}, drawn from {hp.describe()}")
            checked[hp.name] = hp.check(params[hp.name])
        return checked

    def parse_strings(self, texts: Mapping[str, str]) -> Params:
        """Read a configuration back from MLflow's string params (other keys are ignored)."""
        params = {hp.name: hp.parse(texts[hp.name]) for hp in self if hp.name in texts}
        return self.check(params)

    def format(self, params: Mapping[str, Any]) -> dict[str, str]:
        """The configuration as MLflow params."""
        return {name: self[name].format(value) for name, value in params.items()}

    def to_json(self) -> str:
        return json.dumps([hp.to_dict() for hp in self], indent=2)

    # -- hyperopt ---------------------------------------------------------------------------

    def to_hyperopt(self) -> dict[str, Any]:
        """The hyperopt expression of this space: a dict whose values are ``hp.*`` nodes.

        A choice that gates other hyperparameters samples a pair ``(index, branch)`` where
        ``branch`` holds the hyperparameters active under that option; a hyperparameter active
        under several options appears, as one shared node, in each of their branches.
        """
        nodes: dict[str, Any] = {}
        return {hp.name: self._node(hp, nodes) for hp in self if not hp.conditions}

    def flatten(self, sample: Mapping[str, Any]) -> Params:
        """Turn a sample of :meth:`to_hyperopt` into a flat ``{name: value}`` configuration."""
        params: Params = {}
        self._flatten_into(sample, params)
        return {name: params[name] for name in self.names if name in params}

    def to_vals(self, params: Mapping[str, Any]) -> dict[str, list[int | float]]:
        """hyperopt's record of a configuration: one list per label, empty when inactive."""
        return {
            hp.name: [hp.raw_from_value(params[hp.name])] if hp.name in params else []
            for hp in self
        }

    def from_vals(self, vals: Mapping[str, list[Any]]) -> Params:
        """The inverse of :meth:`to_vals`."""
        return {hp.name: hp.value_from_raw(vals[hp.name][0]) for hp in self if vals.get(hp.name)}

    def sample(self, n: int, seed: int | None = None) -> list[Params]:
        """Draw ``n`` configurations the way hyperopt's random search does."""
        import numpy as np
        from hyperopt.pyll import stochastic

        expression = self.to_hyperopt()
        rng = np.random.default_rng(seed)
        return [self.flatten(stochastic.sample(expression, rng=rng)) for _ in range(n)]

    def children(self, name: str, index: int) -> list[Hyperparameter]:
        """The hyperparameters whose own branch is option ``index`` of choice ``name``."""
        return [
            hp
            for hp in self
            if hp.conditions
            and hp.conditions[-1].name == name
            and index in hp.conditions[-1].indices
        ]

    def gates(self, hp: Hyperparameter) -> bool:
        """Whether choice ``hp`` decides whether other hyperparameters are active."""
        return any(other.conditions and other.conditions[-1].name == hp.name for other in self)

    def _node(self, hp: Hyperparameter, nodes: dict[str, Any]) -> Any:
        if hp.name in nodes:
            return nodes[hp.name]
        from hyperopt import hp as hyperopt_hp

        if hp.categorical:
            if self.gates(hp):
                branches: list[Any] = [
                    (
                        i,
                        {
                            child.name: self._node(child, nodes)
                            for child in self.children(hp.name, i)
                        },
                    )
                    for i in range(len(hp.options))
                ]
            else:
                branches = list(range(len(hp.options)))
            if hp.distribution == "pchoice":
                weighted = [(o.probability, b) for o, b in zip(hp.options, branches, strict=True)]
                node = hyperopt_hp.pchoice(hp.name, weighted)
            else:
                node = hyperopt_hp.choice(hp.name, branches)
        else:
            make = getattr(hyperopt_hp, hp.distribution)
            node = make(hp.name, *hp.args.values())
        nodes[hp.name] = node
        return node

    def _flatten_into(self, sample: Mapping[str, Any], params: Params) -> None:
        for name, raw in sample.items():
            hp = self[name]
            if isinstance(raw, tuple):
                index, branch = raw
                params[name] = hp.value_from_raw(index)
                self._flatten_into(branch, params)
            else:
                params[name] = hp.value_from_raw(raw)


def format_value(value: Any) -> str:
    """A value as a string for MLflow: floats exactly (repr), strings as they are, else JSON."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(_jsonable(value))


def _round_to(value: float, q: float) -> float:
    return round(value / q) * q if q else value


def _format_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def _same_value(a: Any, b: Any, exact: bool) -> bool:
    if exact:
        return type(a) is type(b) and a == b
    return bool(_jsonable(a) == _jsonable(b))


def _jsonable(value: Any) -> Any:
    """Tuples become lists, as they would through JSON."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
