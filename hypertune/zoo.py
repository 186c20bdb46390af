"""The seven classic MNIST MLPs, trained one after another into one table::

hypertune zoo --epochs 20
"""

from __future__ import annotations

from pathlib import Path

from hypertune.errors import BadInputError

#: The classic models in teaching order: (template file, what it shows).
MODELS = (
    ("softmax.py", "softmax regression, SGD"),
    ("sigmoid_sgd.py", "MLP, sigmoid, SGD"),
    ("sigmoid_adam.py", "MLP, sigmoid, Adam"),
    ("relu_sgd.py", "MLP, ReLU, SGD, he_normal"),
    ("relu_adam.py", "MLP, ReLU, Adam"),
    ("relu_batchnorm.py", "MLP, ReLU, BatchNorm, Adam"),
    ("relu_dropout.py", "MLP, ReLU, Dropout, Adam"),
)

HEADERS = ("model", "template", "parameters", "epochs", "best val acc", "test acc", "seconds")


def templates_folder(given: str | None) -> Path:
    """``given``, else ``./templates``, else the templates beside this source checkout."""
    candidates = (
        [Path(given)]
        if given
        else [Path("templates"), Path(__file__).resolve().parent.parent / "templates"]
    )
    for folder in candidates:
        if all((folder / name).is_file() for name, _ in MODELS):
            return folder
    names = ", ".join(name for name, _ in MODELS)
    raise BadInputError(
        f"no folder with the zoo's templates ({names}) at {candidates[0]}; pass --templates DIR"
    )
