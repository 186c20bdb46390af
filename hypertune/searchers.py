"""Where a study's next configuration comes from.

- hyperopt's algorithms (``tpe``, ``rand``, ``anneal``, ``atpe``) ask hyperopt for a point given
  the history of the study;
- ``grid`` walks scikit-learn's ``ParameterGrid`` over every combination of the discrete
  markers (continuous ones get ``grid_points`` values each), once each;
- ``sklearn-random`` draws from scikit-learn's ``ParameterSampler``.

A conditional space becomes one grid (or one sampler dict) per combination of the choices that
gate other markers, so inactive markers are never enumerated. Each proposal is seeded from the
study seed and the trial number, so a resumed study proposes what an uninterrupted one would.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from hypertune.errors import BadInputError
from hypertune.space import Hyperparameter, Params, SearchSpace

HYPEROPT_ALGORITHMS = ("tpe", "rand", "anneal", "atpe")
ALGORITHMS = (*HYPEROPT_ALGORITHMS, "grid", "sklearn-random")
#: More values than this in one discrete marker needs --grid-points.
MAX_DISCRETE_VALUES = 1000


class Proposer(Protocol):
    """Proposes the params of trial ``number``, or None when there is nothing left to try."""

    def propose(self, number: int, history: Any, domain: Any) -> Params | None: ...


def make_proposer(
    algo: str,
    space: SearchSpace,
    seed: int,
    recorded: Iterable[Params] = (),
    grid_points: int | None = None,
    tpe_options: dict[str, Any] | None = None,
) -> Proposer:
    """The proposer for ``algo``; ``recorded`` holds configurations a grid must not repeat."""
    if algo == "grid":
        return GridProposer(space, grid_points, recorded)
    if algo == "sklearn-random":
        return SamplerProposer(space, seed)
    if algo in HYPEROPT_ALGORITHMS:
        return HyperoptProposer(space, seed, _suggest_function(algo, tpe_options or {}))
    raise BadInputError(f"unknown algorithm '{algo}'; use one of: {', '.join(ALGORITHMS)}")


def trial_seed(seed: int, number: int, purpose: int = 0) -> int:
    """A seed for trial ``number`` of a study seeded ``seed`` (``purpose`` separates uses)."""
    return int(np.random.default_rng([seed, number, purpose]).integers(2**31 - 1))


class HyperoptProposer:
    def __init__(self, space: SearchSpace, seed: int, suggest: Callable[..., Any]):
        self.space = space
        self.seed = seed
        self.suggest = suggest

    def propose(self, number: int, history: Any, domain: Any) -> Params:
        from hyperopt import base, pyll

        [doc] = self.suggest([number], domain, history, trial_seed(self.seed, number))
        config = base.spec_from_misc(doc["misc"])
        return self.space.flatten(pyll.rec_eval(domain.expr, memo=domain.memo_from_config(config)))


class GridProposer:
    def __init__(self, space: SearchSpace, grid_points: int | None, recorded: Iterable[Params]):
        from sklearn.model_selection import ParameterGrid

        self.space = space
        self.grid = ParameterGrid(grid_branches(space, grid_points))
        self.done = {_key(params) for params in recorded}
        self.position = 0

    def __len__(self) -> int:
        return len(self.grid)

    def propose(self, number: int, history: Any, domain: Any) -> Params | None:
        while self.position < len(self.grid):
            candidate = self._ordered(self.grid[self.position])
            self.position += 1
            if _key(candidate) not in self.done:
                self.done.add(_key(candidate))
                return candidate
        return None

    def _ordered(self, params: dict[str, Any]) -> Params:
        return {name: params[name] for name in self.space.names if name in params}


class SamplerProposer:
    def __init__(self, space: SearchSpace, seed: int):
        self.space = space
        self.seed = seed
        self.branches = _expand(space, _roots(space), _Distribution.of)

    def propose(self, number: int, history: Any, domain: Any) -> Params:
        from sklearn.model_selection import ParameterSampler

        sampler = ParameterSampler(
            self.branches, n_iter=1, random_state=trial_seed(self.seed, number)
        )
        [drawn] = list(sampler)
        return {name: drawn[name] for name in self.space.names if name in drawn}


def grid_branches(space: SearchSpace, grid_points: int | None) -> list[dict[str, list[Any]]]:
    """One ``{name: [values]}`` grid per combination of gating choices; refuses what is
    continuous unless ``grid_points`` is given."""
    continuous = [hp for hp in space if _grid_values(hp, None) is None]
    if continuous and grid_points is None:
        listed = ", ".join(f"{hp.name} ({hp.describe()})" for hp in continuous)
        raise BadInputError(
            f"--algo grid needs --grid-points K for continuous markers: {listed}; or make them "
            "choices"
        )
    return _expand(space, _roots(space), lambda hp: _grid_values(hp, grid_points))


def grid_size(space: SearchSpace, grid_points: int | None) -> int:
    from sklearn.model_selection import ParameterGrid

    return len(ParameterGrid(grid_branches(space, grid_points)))


def _roots(space: SearchSpace) -> list[Hyperparameter]:
    return [hp for hp in space if not hp.conditions]


def _expand(
    space: SearchSpace, hps: list[Hyperparameter], values_of: Callable[[Hyperparameter], Any]
) -> list[dict[str, Any]]:
    branches: list[dict[str, Any]] = [{}]
    for hp in hps:
        if not space.gates(hp):
            branches = [{**branch, hp.name: values_of(hp)} for branch in branches]
            continue
        expanded = []
        for index, option in enumerate(hp.options):
            for sub in _expand(space, space.children(hp.name, index), values_of):
                expanded += [{**branch, hp.name: [option.value], **sub} for branch in branches]
        branches = expanded
    return branches


def _grid_values(hp: Hyperparameter, points: int | None) -> list[Any] | None:
    """The values a grid takes for ``hp``: all of them if discrete, else ``points`` spread over
    its range (quantiles of normals), or None when continuous and no ``points`` is given."""
    if hp.categorical:
        return [option.value for option in hp.options]
    a = hp.args
    discrete = None
    if hp.distribution in ("randint", "uniformint"):
        end = a["high"] if hp.distribution == "randint" else a["high"] + 1
        discrete = np.arange(a["low"], end)
    elif hp.distribution == "quniform":
        low, high = hp.bounds()
        discrete = np.arange(low, high + a["q"] / 2, a["q"])
    if discrete is not None and len(discrete) <= MAX_DISCRETE_VALUES:
        return _finish(hp, discrete)
    if points is None:
        return None
    quantiles = (np.arange(points) + 0.5) / points
    if hp.distribution in ("uniform", "quniform", "randint", "uniformint"):
        low, high = hp.bounds()
        values = np.linspace(low, high, points)
    elif hp.distribution in ("loguniform", "qloguniform"):
        values = np.exp(np.linspace(a["low"], a["high"], points))
    else:
        from scipy.stats import norm

        values = a["mu"] + a["sigma"] * norm.ppf(quantiles)
        if hp.distribution in ("lognormal", "qlognormal"):
            values = np.exp(values)
    return _finish(hp, values)


def _finish(hp: Hyperparameter, values: Any) -> list[Any]:
    finished = [_quantize(hp, float(v)) for v in values]
    return list(dict.fromkeys(finished))


def _quantize(hp: Hyperparameter, value: float) -> Any:
    q = hp.args.get("q")
    if q:
        value = round(value / q) * q
    return round(value) if hp.integer and math.isfinite(value) else value


class _Distribution:
    """A marker as scikit-learn's ParameterSampler wants it: lists, or objects with ``rvs``."""

    def __init__(self, hp: Hyperparameter, frozen: Any):
        self.hp = hp
        self.frozen = frozen

    @classmethod
    def of(cls, hp: Hyperparameter) -> Any:
        from scipy import stats

        a = hp.args
        if hp.distribution == "choice":
            return [option.value for option in hp.options]
        frozen: Any
        if hp.distribution == "pchoice":
            weights = [option.probability or 0.0 for option in hp.options]
            frozen = stats.rv_discrete(values=(range(len(weights)), weights))
        elif hp.distribution in ("uniform", "quniform"):
            frozen = stats.uniform(a["low"], a["high"] - a["low"])
        elif hp.distribution in ("loguniform", "qloguniform"):
            frozen = stats.loguniform(math.exp(a["low"]), math.exp(a["high"]))
        elif hp.distribution in ("normal", "qnormal"):
            frozen = stats.norm(a["mu"], a["sigma"])
        elif hp.distribution in ("lognormal", "qlognormal"):
            frozen = stats.lognorm(s=a["sigma"], scale=math.exp(a["mu"]))
        else:
            end = a["high"] if hp.distribution == "randint" else a["high"] + 1
            frozen = stats.randint(int(a["low"]), int(end))
        return cls(hp, frozen)

    def rvs(self, random_state: Any = None) -> Any:
        drawn = self.frozen.rvs(random_state=random_state)
        if self.hp.distribution == "pchoice":
            return self.hp.options[int(drawn)].value
        return _quantize(self.hp, float(drawn))


def _suggest_function(algo: str, options: dict[str, Any]) -> Callable[..., Any]:
    from hyperopt import anneal, rand, tpe

    if algo == "tpe":
        return functools.partial(tpe.suggest, **options)
    if algo == "atpe":
        try:
            from hyperopt import atpe
        except ImportError as error:
            raise BadInputError(
                f"--algo atpe needs lightgbm and scikit-learn ({error}); install them with "
                "`pip install lightgbm scikit-learn`"
            ) from None
        return atpe.suggest  # type: ignore[no-any-return]
    suggest: Callable[..., Any] = {"rand": rand.suggest, "anneal": anneal.suggest}[algo]
    return suggest


def _key(params: Params) -> str:
    return json.dumps(params, sort_keys=True, default=str)
