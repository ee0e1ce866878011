"""The invariance probe: one model trained on training rows only, scored on held-out rows flipped and rotated; the
families that keep the class kept, the others dropped, the result written to probe.json and into the run's
config, and not re-run on resume."""

from __future__ import annotations

import json

import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.config import load_toml
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training import probe
from kaggle_kit.training.config import AugmentConfig, RecipeConfig
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.rundir import open_run
from kaggle_kit.training.trainer import train_run


class Messages(Reporter):
    def __init__(self):
        self.messages = []

    def message(self, text):
        self.messages.append(text)


def test_a_family_holds_when_transformed_rows_keep_most_of_the_accuracy_over_chance():
    # digits: flipped, the instrument falls toward chance; rotated, it barely moves
    assert probe.decide({"hflip": 0.41, "rotate": 0.93}, clean=0.96, num_classes=10) == (
        True, {"hflip": False, "rotate": True})
    assert probe.decide({"hflip": 0.95, "rotate": 0.9}, clean=0.96, num_classes=10)[1] == {"hflip": True,
                                                                                           "rotate": True}
    chance, clean = 0.5, 0.9  # the threshold is on the margin over chance, not on raw accuracy
    assert probe.decide({"hflip": chance + 0.76 * (clean - chance)}, clean, 2)[1] == {"hflip": True}
    assert probe.decide({"hflip": chance + 0.74 * (clean - chance)}, clean, 2)[1] == {"hflip": False}
    assert probe.decide({"hflip": 0.0}, clean=0.9, num_classes=2)[1] == {"hflip": False}  # flips swap the classes
    # an instrument that has not learned decides nothing
    assert probe.decide({"hflip": 0.15, "rotate": 0.15}, clean=0.15, num_classes=10) == (False, {})


def test_verdicts_switch_families_on_and_off_in_the_recipes_augmentation():
    recipe = AugmentConfig(rotation=10, shear=5, zoom=0.1, shift=0.1)
    flips = probe.probed_augment(recipe, {"hflip": True, "rotate": True})
    assert (flips.hflip, flips.rotation, flips.shear, flips.zoom, flips.shift) == (0.5, 10, 5, 0.1, 0.1)
    digits = probe.probed_augment(recipe, {"hflip": False, "rotate": True})
    assert digits == recipe  # the default recipe's augmentation is already what digits need
    upright = probe.probed_augment(AugmentConfig(rotation=10, shear=5, hflip=0.3), {"hflip": False, "rotate": False})
    assert (upright.hflip, upright.rotation, upright.shear) == (0.0, 0.0, 0.0)
    assert probe.probed_augment(recipe, {}) == recipe  # inconclusive: the recipe's own
    # a recipe without rotation gains what was tested (at least 10 and 5 degrees) when it holds
    assert probe.probed_augment(AugmentConfig(rotation=0, shear=0), {"rotate": True}).rotation == probe.MIN_ROTATION


def test_the_probe_runs_by_default_for_the_default_recipe_within_its_time_bounds():
    default = load_recipe("default")
    assert default.probe == "auto" and probe.probe_minutes(default) == probe.DEFAULT_MINUTES
    assert probe.probe_minutes(load_recipe("default", ["budget_minutes=20"])) == pytest.approx(2.0)
    assert probe.probe_minutes(load_recipe("default", ["budget_minutes=60"])) == probe.MAX_MINUTES
    assert probe.probe_minutes(load_recipe("default", ["budget_minutes=2"])) == probe.MIN_MINUTES
    assert probe.probe_minutes(load_recipe("default", ['probe="off"', "budget_minutes=20"])) is None
    assert probe.probe_minutes(load_recipe("default", ['augment.backend="none"'])) is None  # nothing to decide
    assert probe.probe_minutes(load_recipe("default", ['probe="on"', "probe_minutes=0.5"])) == 0.5


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "flips_hold"), [("digits", False), ("mirror-pairs", True)])
def test_the_probe_finds_flips_change_digits_and_keep_mirror_pairs(tmp_path, kind, flips_hold):
    """Real images whose answer is known by construction: scikit-learn's digits, and pairs of them with the right
    one mirrored (a flip swaps the pair's two samples: same class)."""
    store = write_competition(tmp_path / "store", n_train=1500, n_test=20, kind=kind)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["batch_size=64", "probe_rows=1500"])
    result = probe.run_probe(comp, recipe, minutes=0.25, reporter=Messages())
    assert result["informative"], result
    assert result["verdicts"] == {"hflip": flips_hold, "rotate": True}, result
    assert result["n_train"] + result["n_val"] == 1500 and result["epochs"] >= 2
    assert (result["augment"]["hflip"] > 0) is flips_hold and result["augment"]["rotation"] == 10


@pytest.mark.slow
def test_a_probed_run_records_its_result_trains_with_it_and_does_not_probe_again(tmp_path):
    store = write_competition(tmp_path / "store", n_train=300, n_test=40, kind="mirror-pairs")
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=64", 'probe="on"', "probe_minutes=0.15"])
    run_dir = tmp_path / "run"
    rep = Messages()
    train_run(comp, recipe, run_dir, folds_to_train=[0], reporter=rep)
    result = json.loads((run_dir / "probe.json").read_text())
    assert set(result["accuracies"]) == {"hflip", "rotate"} and result["n_train"] + result["n_val"] == 300
    assert all(0 <= a <= 1 for a in [result["clean_accuracy"], *result["accuracies"].values()])
    saved = load_toml(run_dir / "config.toml", RecipeConfig)
    assert saved.augment.model_dump() == result["augment"]  # the run trained with the probe's augmentation
    assert any("invariance probe: training with" in m for m in rep.messages)

    again = Messages()  # resuming reuses probe.json, and the run folder accepts the recipe it gives back
    resumed = probe.probe_run(run_dir, comp, recipe, again)
    assert resumed.augment.model_dump() == result["augment"]
    assert not any("training one model" in m for m in again.messages) and any("probe.json" in m for m in again.messages)
    open_run(run_dir, comp, resumed, again)  # raises ConfigError if the config hash differed


def test_auto_skips_a_competition_too_small_to_tell(tmp_path):
    store = write_competition(tmp_path / "store", n_train=300, n_test=40)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default")
    rep = Messages()
    assert probe.probe_run(tmp_path / "run", comp, recipe, rep) == recipe
    assert not (tmp_path / "run" / "probe.json").exists()
    assert any("skipped: 300 training rows, under 2000" in m for m in rep.messages)
