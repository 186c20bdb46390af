"""The scikit-learn route: a template as an estimator whose parameters are its hyperparameters.

    from sklearn.model_selection import GridSearchCV
    from hypertune.sklearn import TemplateClassifier, load_xy

    x, y = load_xy()
    search = GridSearchCV(TemplateClassifier("templates/activation.py", epochs=2),
                          {"activation": ["sigmoid", "relu"]}, cv=3)
    search.fit(x, y)

Built on scikeras' ``KerasClassifier``: every name of the template's space (``activation``,
``Dense_1.units``, ...) is an estimator parameter, so ``GridSearchCV`` and
``RandomizedSearchCV`` set them like any other; a name left out takes its default (the first
option of a choice, the middle of a range). Values are checked against the space, and names
inactive under the chosen branches are ignored.

``n_jobs``: on CPU, ``n_jobs=k`` runs k candidates in k processes (each with its own
TensorFlow, so give each process ``cpu_count // k`` threads' worth of work); on a GPU keep
``n_jobs=1``, as parallel processes would compete for the one device's memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from scikeras.wrappers import KerasClassifier

from hypertune.data import DataRef, load_split
from hypertune.errors import BadInputError
from hypertune.space import Hyperparameter, Params, SearchSpace
from hypertune.template import Template, compile_template


class TemplateClassifier(KerasClassifier):  # type: ignore[misc]
    """A classifier whose model comes from a template; see the module docstring.

    Args:
        template: Path of the template file.
        loss: The loss the template compiles with, so labels are encoded to match. Defaults to
            ``"categorical_crossentropy"`` (one-hot labels), as in hypertune's templates.
        epochs, batch_size: As for ``KerasClassifier``; when the template marks them, they are
            those hyperparameters. Defaults to the template's default, else 1 and 128.
        verbose: As for ``KerasClassifier``. Defaults to 0.
        **hyperparameters: Values for the template's hyperparameters, by name.
    """

    def __init__(
        self,
        template: str | None = None,
        *,
        loss: str = "categorical_crossentropy",
        epochs: int | None = None,
        batch_size: int | None = None,
        verbose: int = 0,
        **hyperparameters: Any,
    ):
        fit = {"epochs": epochs, "batch_size": batch_size}
        if template is not None:
            space = _compiled(str(template)).space
            unknown = sorted(set(hyperparameters) - set(space.names) - _WRAPPER_PARAMS)
            if unknown:
                raise BadInputError(
                    f"unknown hyperparameter {', '.join(map(repr, unknown))} for {template}; "
                    f"its names are: {', '.join(space.names)}"
                )
            hyperparameters = {**default_params(space), **hyperparameters}
            # a template may mark epochs or batch_size itself: then they are the same parameter
            for name in fit:
                marked = hyperparameters.pop(name, None)
                fit[name] = marked if fit[name] is None else fit[name]
        super().__init__(
            loss=loss,
            epochs=1 if fit["epochs"] is None else fit["epochs"],
            batch_size=128 if fit["batch_size"] is None else fit["batch_size"],
            verbose=verbose,
            **hyperparameters,
        )
        self.template = template

    @property
    def compiled_template(self) -> Template:
        if self.template is None:
            raise BadInputError("TemplateClassifier needs a template path")
        return _compiled(str(self.template))

    def template_params(self) -> Params:
        """The values of the active hyperparameters, checked against the space."""
        space = self.compiled_template.space
        chosen: Params = {}
        for hp in space:
            if space.is_active(hp, chosen):
                chosen[hp.name] = getattr(self, hp.name)
        return space.check(chosen)

    def fit(self, X: Any, y: Any, **kwargs: Any) -> TemplateClassifier:
        with _determinism_restored():
            super().fit(X, y, **kwargs)
        return self

    def partial_fit(self, X: Any, y: Any, **kwargs: Any) -> TemplateClassifier:
        with _determinism_restored():
            super().partial_fit(X, y, **kwargs)
        return self

    def _keras_build_fn(self, **_: Any) -> Any:
        template = self.compiled_template
        if template.takes_data:
            raise BadInputError(
                f"{template.path} trains its own model (Hyperas style); the scikit-learn route "
                "needs a template whose create_model() returns a compiled model"
            )
        return template.load(self.template_params())[template.function]()


#: Parameters of KerasClassifier that a user may pass besides hyperparameters.
_WRAPPER_PARAMS = frozenset(
    {
        "model",
        "build_fn",
        "class_weight",
        "optimizer",
        "metrics",
        "validation_split",
        "shuffle",
        "callbacks",
        "random_state",
        "warm_start",
        "validation_batch_size",
        "run_eagerly",
    }
)


@contextmanager
def _determinism_restored() -> Iterator[None]:
    """scikeras turns TensorFlow's op determinism on for ``random_state`` and, with current
    TensorFlow, never turns it off, so later unseeded fits (Dropout) fail; undo that."""
    from tensorflow.python.framework import config  # the public API lacks the query

    before = config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if not before and config.is_op_determinism_enabled():
            config.disable_op_determinism()


@lru_cache(maxsize=16)
def _compiled(path: str) -> Template:
    return compile_template(path)


def default_params(space: SearchSpace) -> Params:
    """A value for every hyperparameter: a choice's first option, a range's middle."""
    return {hp.name: _default(hp) for hp in space}


def _default(hp: Hyperparameter) -> Any:
    if hp.categorical:
        return hp.options[0].value
    a = hp.args
    if hp.distribution in ("normal", "qnormal"):
        value = a["mu"]
    elif hp.distribution in ("lognormal", "qlognormal"):
        value = math.exp(a["mu"])
    elif hp.distribution in ("loguniform", "qloguniform"):
        value = math.exp((a["low"] + a["high"]) / 2)
    elif hp.distribution == "randint":
        value = a["low"]
    else:
        value = (a["low"] + a["high"]) / 2
    q = a.get("q")
    if q:
        value = round(value / q) * q
    return round(value) if hp.integer else value


def load_xy(
    path: str | None = None, part: str = "train", val_size: int = 10_000
) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 rows and labels as integers, for scikit-learn.

    ``part`` is ``"train"`` (the training split, for cross-validation), ``"val"`` or
    ``"test"``; the source is ``path``, then ``HYPERTUNE_DATA``, then Keras's download.
    """
    split = load_split(DataRef.resolve(path, val_size))
    arrays = {
        "train": (split.x_train, split.y_train),
        "val": (split.x_val, split.y_val),
        "test": (split.x_test, split.y_test),
    }
    if part not in arrays:
        raise BadInputError(f"part must be train, val or test, but got {part!r}")
    x, y = arrays[part]
    return x, y.argmax(axis=1)
