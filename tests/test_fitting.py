"""hypertune's training settings (steps per call, validation batch, epoch-level NaN check)
change how fast a template trains, never what it learns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEMPLATES


@pytest.mark.parametrize("name", ["relu_dropout", "relu_batchnorm"])
def test_hypertune_fits_exactly_what_bare_keras_fits(name: str, small_data: Path) -> None:
    from hypertune import fitting
    from hypertune.data import DataRef, load_split
    from hypertune.settings import FitSettings
    from hypertune.template import compile_template

    split = load_split(DataRef(str(small_data), 500))
    template = compile_template(TEMPLATES / f"{name}.py")
    settings = FitSettings(epochs=2, batch_size=64, seed=0)

    ours = fitting.train(template, {}, split, settings).history
    fitting.clear()
    fitting.seed_everything(0)
    model = template.load({})["create_model"]()
    assert model.steps_per_execution == 1, "the template keeps Keras's default"
    bare = model.fit(
        split.x_train,
        split.y_train,
        batch_size=64,
        epochs=2,
        validation_data=(split.x_val, split.y_val),
        verbose=0,
    ).history
    fitting.clear()

    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [epoch[key] for epoch in ours] == pytest.approx(bare[key], rel=1e-4), key


@pytest.mark.parametrize(
    "images, batch_size, expected",
    [
        (10_000, 128, 1250),  # divides: no last, smaller batch to compile
        (10_000, 2048, 2500),
        (500, 128, 1024),  # fewer images than a batch: one call
        (9_973, 128, 1024),  # a prime: no divisor, so the smallest batch
        (60_000, 64, 1200),
    ],
)
def test_evaluation_batch_divides_the_images_where_it_can(
    images: int, batch_size: int, expected: int
) -> None:
    from hypertune.fitting import evaluation_batch_size

    assert evaluation_batch_size(images, batch_size) == expected
