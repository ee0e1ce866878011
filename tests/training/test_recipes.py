"""Recipes: every bundled recipe loads and builds; names, files, overrides; lr = "finder" resolution."""

from __future__ import annotations

import json

import pytest

from kaggle_kit.errors import ConfigError
from kaggle_kit.training.baselines import BASELINE_MODELS
from kaggle_kit.training.models import available_models
from kaggle_kit.training.recipes import (
    available_recipes,
    latest_lr_finder,
    load_recipe,
    recipe_text,
    resolve_lr,
)

SEEDS = ["seed000", "seed001", "seed002", "seed003", "seed004"]


def test_bundled_recipes_are_complete_and_valid():
    names = available_recipes()
    for expected in ["default", *SEEDS, "knn", "random-forest", "svm-pca"]:
        assert expected in names
    for name in names:
        cfg = load_recipe(name)
        assert cfg.name == name
        assert cfg.model.name in available_models() or cfg.model.name in BASELINE_MODELS
        assert recipe_text(name).startswith("#")  # the comment header saying what it reproduces


def test_seed_recipes_reproduce_their_notebooks():
    s0, s1, s2, s3, s4 = (load_recipe(n) for n in SEEDS)
    assert (s0.model.name, s0.schedule.name, s0.schedule.values, s0.epochs) == ("seed000_vgg", "step",
                                                                                [1e-3, 3e-4, 1e-4], 150)
    assert (s1.loss.name, s1.optimizer.name, s1.optimizer.lr, s1.folds, s1.augment.backend, s1.extra_data) == (
        "symmetric_cross_entropy", "rmsprop", 3e-4, 8, "albumentations", "train")
    assert (s2.schedule.name, s2.schedule.decay, s2.batch_size) == ("exponential", 0.9, 64)
    assert (s3.model.name, s3.schedule.decay, s3.early_stopping, s3.folds) == ("seed003_deotte", 0.95, 10, 10)
    assert (s4.optimizer.lr, s4.schedule.name, s4.schedule.monitor) == (1e-4, "plateau", "val_accuracy")


def test_recipe_files_overrides_and_unknown_names(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(recipe_text("default").replace('name = "default"\n', ""))
    cfg = load_recipe(path, ["epochs=3", "optimizer.name=\"nadam\""])
    assert (cfg.name, cfg.epochs, cfg.optimizer.name) == ("mine", 3, "nadam")  # name defaults to the file's
    with pytest.raises(ConfigError, match="unknown recipe 'nope'.*default"):
        load_recipe("nope")
    with pytest.raises(ConfigError, match="missing.toml: recipe file not found"):
        load_recipe(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = 0\n")
    with pytest.raises(ConfigError, match="epochs"):
        load_recipe(bad)


def _finder_result(root, stamp, suggested):
    d = root / "digit-recognizer" / "lr-find" / stamp
    d.mkdir(parents=True)
    (d / "lr_finder.json").write_text(json.dumps({"suggested": suggested, "low": suggested / 3, "high": suggested * 10}))
    return d / "lr_finder.json"


def test_lr_finder_resolution_takes_the_newest_result(tmp_path):
    cfg = load_recipe("default", ['optimizer.lr="finder"'])
    with pytest.raises(ConfigError, match="no learning-rate finder result.*digit-recognizer") as exc:
        resolve_lr(cfg, "digit-recognizer", runs_base=tmp_path)
    assert "kk lr-find digit-recognizer" in exc.value.hint
    _finder_result(tmp_path, "20260101-000000", 0.01)
    newest = _finder_result(tmp_path, "20260102-000000", 0.004)
    assert latest_lr_finder("digit-recognizer", tmp_path) == newest
    resolved, source = resolve_lr(cfg, "digit-recognizer", runs_base=tmp_path)
    assert resolved.optimizer.lr == 0.004 and str(newest) in source
    plain = load_recipe("default")
    assert resolve_lr(plain, "digit-recognizer", runs_base=tmp_path) == (plain, "recipe")


BAD_VALUES = [
    ("[optimizer]\nmomentum = 1.5", "optimizer.momentum"),
    ("[optimizer]\nlr = -0.001", "optimizer.lr"),
    ("[optimizer]\nweight_decay = -1e-4", "optimizer.weight_decay"),
    ("[optimizer]\nclipnorm = 0.0", "optimizer.clipnorm"),
    ("[loss]\nlabel_smoothing = 2.0", "loss.label_smoothing"),
    ("[loss]\nalpha = -0.1", "loss.alpha"),
    ("[schedule]\ndecay = 7.0", "schedule.decay"),
    ("[schedule]\nfactor = 1.5", "schedule.factor"),
    ("[schedule]\npatience = -1", "schedule.patience"),
    ("[schedule]\nmin_lr = -1e-6", "schedule.min_lr"),
    ("[schedule]\nwarmup_epochs = -1", "schedule.warmup_epochs"),
    ("[schedule]\nboundaries = [0, 5]", "schedule.boundaries.0"),
    ("[schedule]\nvalues = [1e-3, -1e-4]", "schedule.values.1"),
    ("[augment]\nrotation = 200.0", "augment.rotation"),
    ("[augment]\nshear = 90.0", "augment.shear"),
    ("[augment]\nzoom = 1.0", "augment.zoom"),
    ("[augment]\nshift = -0.1", "augment.shift"),
    ("[augment]\np = 1.5", "augment.p"),
    ("[augment]\ngrid_distortion = 2.0", "augment.grid_distortion"),
    ("[augment]\nbrightness_contrast = -0.2", "augment.brightness_contrast"),
    ("[augment]\ngamma = 1.0", "augment.gamma"),
    ("[augment]\nrandom_crop = 1.0", "augment.random_crop"),
    ("epochs = 0", "epochs"),
    ("batch_size = 0", "batch_size"),
    ("folds = 1", "folds"),
    ("seed = -1", "seed"),
    ("limit = 1", "limit"),
    ("early_stopping = 0", "early_stopping"),
    ("tta = -2", "tta"),
    ('extra_data = "maybe"', "extra_data"),
]


@pytest.mark.parametrize(("toml", "field"), BAD_VALUES, ids=[f for _, f in BAD_VALUES])
def test_out_of_range_values_are_refused_when_the_recipe_loads(tmp_path, toml, field):
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe(path)
    lines = str(exc.value).splitlines()
    assert str(path) in lines[0] and any(line.strip().startswith(f"{field}:") for line in lines[1:]), str(exc.value)


@pytest.mark.parametrize(("toml", "field", "choices"), [
    ('[model]\nname = "resnet50"', "model.name", ["kk_cnn", "seed003_deotte", "knn", "svm-pca"]),
    ('[loss]\nname = "focal"', "loss.name", ["categorical_crossentropy", "symmetric_cross_entropy"]),
    ('[optimizer]\nname = "adagrad"', "optimizer.name", ["adam", "nadam", "rmsprop", "sgd"]),
    ('[schedule]\nname = "linear"', "schedule.name", ["cosine", "one_cycle", "plateau"]),
    ('[augment]\nbackend = "kornia"', "augment.backend", ["graph", "albumentations", "none"]),
])
def test_unknown_component_names_are_refused_with_the_choices(tmp_path, toml, field, choices):
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=f"{field}:") as exc:
        load_recipe(path)
    assert str(path) in str(exc.value) and all(c in str(exc.value) for c in choices), str(exc.value)


def test_a_component_name_set_on_the_command_line_is_checked_too():
    from kaggle_kit.training.recipes import resolve_recipe

    with pytest.raises(ConfigError, match=r"model\.name: unknown model 'resnet50' \(known: .*kk_cnn.*knn"):
        resolve_recipe("default", overrides=['model.name="resnet50"'])
