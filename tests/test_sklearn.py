"""The scikit-learn route: templates as estimators in GridSearchCV and RandomizedSearchCV."""

from __future__ import annotations

import pytest

from hypertune.errors import BadInputError, ParamsError
from tests.conftest import TEMPLATES


@pytest.fixture(scope="module")
def xy(small_data):  # type: ignore[no-untyped-def]
    from hypertune.sklearn import load_xy

    x, y = load_xy(str(small_data), val_size=500)
    return x[:900], y[:900]


def test_grid_search_over_the_activation(xy) -> None:
    from sklearn.model_selection import GridSearchCV

    from hypertune.sklearn import TemplateClassifier

    x, y = xy
    search = GridSearchCV(
        TemplateClassifier(str(TEMPLATES / "activation.py"), epochs=2, random_state=0),
        {"activation": ["sigmoid", "relu"]},
        cv=3,
    )
    search.fit(x, y)
    assert [p["activation"] for p in search.cv_results_["params"]] == ["sigmoid", "relu"]
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert search.best_params_["activation"] == "relu", "ReLU learns faster in two epochs"
    assert 0.5 < search.best_score_ <= 1.0
    assert search.best_estimator_.model_.layers[0].activation.__name__ == "relu"


def test_randomized_search_over_a_conditional_template(xy) -> None:
    from scipy.stats import uniform
    from sklearn.model_selection import RandomizedSearchCV

    from hypertune.sklearn import TemplateClassifier

    x, y = xy
    search = RandomizedSearchCV(
        TemplateClassifier(str(TEMPLATES / "mlp_space.py"), epochs=1),
        {
            "units_1": [128, 256],
            "dropout": uniform(0, 0.5),
            "n_layers": [1, 2],
            "batch_size": [64, 128],
        },
        n_iter=3,
        cv=2,
        random_state=0,
    )
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 3
    best = search.best_estimator_
    layers = [type(layer).__name__ for layer in best.model_.layers]
    assert layers.count("Dense") == best.n_layers + 1
    assert best.batch_size in (64, 128)
    assert "units_2" not in best.template_params() or best.n_layers >= 2


def test_defaults_and_names() -> None:
    from sklearn.base import clone

    from hypertune.sklearn import TemplateClassifier

    estimator = TemplateClassifier(str(TEMPLATES / "mlp_space.py"), units_1=512)
    params = estimator.get_params()
    assert params["units_1"] == 512
    assert params["activation"] == "relu"  # the first option
    assert params["dropout"] == 0.25  # the middle of uniform(0, 0.5)
    assert params["batch_size"] == 64  # the template marks batch_size itself
    assert clone(estimator).get_params()["units_1"] == 512

    with pytest.raises(BadInputError, match="unknown hyperparameter 'units_9'"):
        TemplateClassifier(str(TEMPLATES / "mlp_space.py"), units_9=3)


def test_values_outside_the_space_are_refused(xy) -> None:
    from hypertune.sklearn import TemplateClassifier

    x, y = xy
    estimator = TemplateClassifier(str(TEMPLATES / "activation.py"), activation="tanh")
    with pytest.raises(ParamsError, match="'tanh' is not one of its options"):
        estimator.fit(x, y)
