"""The one registry idiom: register by name, get by name (unknown names list the choices), describe by docstring;
and every bundled component is registered where recipes look it up."""

from __future__ import annotations

from typing import get_args

import pytest

from kaggle_kit.errors import ConfigError
from kaggle_kit.registry import Registry
from kaggle_kit.training.config import AugmentConfig, LossConfig, OptimizerConfig, ScheduleConfig


def test_register_get_names_and_describe():
    shapes: Registry = Registry("shape", field="shape.name")

    @shapes.register("square")
    def square(side):
        """A square of the given side.

        More text that is not part of the description.
        """
        return side * side

    shapes.register("dot", description="A point.")(lambda: 0)
    assert shapes.get("square")(3) == 9
    assert shapes.names() == ["dot", "square"] and "square" in shapes and "circle" not in shapes
    assert shapes.describe("square") == "A square of the given side." and shapes.describe("dot") == "A point."
    with pytest.raises(ConfigError, match=r"shape\.name: unknown shape 'circle' \(known: dot, square\)"):
        shapes.get("circle")
    with pytest.raises(ValueError, match="shape 'square' is already registered"):
        shapes.register("square")(lambda side: side)
    assert shapes.register("square")(square) is square  # re-registering the same object is harmless


def test_the_schema_choices_are_the_registered_names():
    from kaggle_kit.training.data import AUGMENTATIONS
    from kaggle_kit.training.losses import LOSSES
    from kaggle_kit.training.optimizers import OPTIMIZERS
    from kaggle_kit.training.schedules import SCHEDULES

    for cfg, registry in ((LossConfig, LOSSES), (OptimizerConfig, OPTIMIZERS), (ScheduleConfig, SCHEDULES),
                          (AugmentConfig, AUGMENTATIONS)):
        field = "backend" if cfg is AugmentConfig else "name"
        assert sorted(get_args(cfg.model_fields[field].annotation)) == registry.names(), cfg.__name__


def test_components_list_every_registry_with_descriptions():
    from kaggle_kit.training import components

    rows = components()
    kinds = {c.kind for c in rows}
    assert kinds == {"model", "baseline model", "loss", "optimizer", "schedule", "augmentation back end",
                     "fold trainer"}
    assert all(c.description for c in rows), [c.name for c in rows if not c.description]
    by_name = {(c.kind, c.name): c for c in rows}
    assert by_name[("model", "seed003_deotte")].field == "model.name"
    assert by_name[("baseline model", "knn")].description.startswith("k-nearest neighbours")
