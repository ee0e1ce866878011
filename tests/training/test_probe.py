"""The augmentation probe: candidates trained briefly on training rows only, the recipe's augmentation kept unless
clearly beaten, the choice written to probe.json and into the run's config, and not re-run on resume."""

from __future__ import annotations

import json

import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.config import load_toml
from kaggle_kit.sample_data import write_competition
from kaggle_kit.training import probe
from kaggle_kit.training.config import RecipeConfig
from kaggle_kit.training.recipes import load_recipe
from kaggle_kit.training.reporting import Reporter
from kaggle_kit.training.rundir import open_run
from kaggle_kit.training.trainer import train_run


class Messages(Reporter):
    def __init__(self):
        self.messages = []

    def message(self, text):
        self.messages.append(text)


def test_choose_keeps_the_recipe_unless_a_candidate_is_clearly_better():
    assert probe.choose({"recipe": 0.90, "none": 0.905, "hflip": 0.91}, n_val=400)[0] == "recipe"  # within 1 SE
    assert probe.choose({"recipe": 0.90, "none": 0.905, "hflip": 0.95}, n_val=400)[0] == "hflip"
    assert probe.choose({"recipe": 0.90, "none": 0.80}, n_val=400)[0] == "recipe"
    # a probe too short to learn anything decides nothing, however the noise falls
    assert not probe.is_informative({"recipe": 0.085, "hflip": 0.0992}, num_classes=10)
    # measured on mirror-pairs with 10 s per candidate: "none" learns fastest, the recipe had not started yet
    assert not probe.is_informative({"recipe": 0.1875, "none": 0.7542, "erase": 0.5992}, num_classes=10)
    assert not probe.is_informative({"recipe": 0.2283, "none": 0.6258}, num_classes=10)  # digit-recognizer, 10 s
    assert probe.is_informative({"recipe": 0.35, "hflip": 0.41}, num_classes=10)
    assert probe.choose({"recipe": 0.80, "none": 0.84}, n_val=400)[0] == "recipe"  # dropping augmentation: 3 SE
    assert probe.choose({"recipe": 0.80, "none": 0.90}, n_val=400)[0] == "none"


def test_the_probe_runs_only_when_asked_or_budgeted():
    default = load_recipe("default")
    assert default.probe == "off" and probe.probe_minutes(default) is None  # no budget: no probe
    assert probe.probe_minutes(load_recipe("default", ["budget_minutes=20"])) is None  # opt-in: budget alone, none
    auto = ["probe=\"auto\""]
    assert probe.probe_minutes(load_recipe("default", [*auto, "budget_minutes=20"])) == pytest.approx(4.0)
    assert probe.probe_minutes(load_recipe("default", [*auto, "budget_minutes=2"])) == probe.MIN_MINUTES
    assert probe.probe_minutes(load_recipe("default", ["probe=\"off\"", "budget_minutes=20"])) is None
    assert probe.probe_minutes(load_recipe("default", ["probe=\"on\"", "probe_minutes=0.5"])) == 0.5


@pytest.mark.slow
def test_a_probed_run_records_its_choice_trains_with_it_and_does_not_probe_again(tmp_path, monkeypatch):
    # two candidates (the recipe's own + flips) keep the test short; the full list is the same code path
    monkeypatch.setattr(probe, "CANDIDATES", {"hflip": probe.CANDIDATES["hflip"]})
    # the pick itself is tested above; here flips win so that the run visibly trains with something else
    monkeypatch.setattr(probe, "choose", lambda scores, n_val: ("hflip", 0.01))
    monkeypatch.setattr(probe, "INFORMATIVE", 0.0)  # 12 s of training on 240 rows may not learn yet
    store = write_competition(tmp_path / "store", n_train=300, n_test=40)
    comp = Competition.open(store / "digit-recognizer" / "data", slug="digit-recognizer")
    recipe = load_recipe("default", ["folds=2", "epochs=1", "batch_size=64", 'probe="on"', "probe_minutes=0.2"])
    run_dir = tmp_path / "run"
    rep = Messages()
    train_run(comp, recipe, run_dir, folds_to_train=[0], reporter=rep)
    result = json.loads((run_dir / "probe.json").read_text())
    names = [c["name"] for c in result["candidates"]]
    assert names == ["recipe", "hflip"] and all(c["epochs"] >= 1 for c in result["candidates"])
    assert all(0 <= c["val_accuracy"] <= 1 for c in result["candidates"])
    assert result["n_train"] + result["n_val"] == 300 and result["chosen"] in names
    saved = load_toml(run_dir / "config.toml", RecipeConfig)
    assert result["chosen"] == "hflip" and saved.augment.hflip == 0.5 and saved.augment.rotation == 0
    assert saved.augment.model_dump() == result["augment"]  # the run trained with the probe's choice
    assert any("probe chose" in m for m in rep.messages)

    again = Messages()  # resuming reuses probe.json, and the run folder accepts the recipe it gives back
    resumed = probe.probe_run(run_dir, comp, recipe, again)
    assert resumed.augment.model_dump() == result["augment"]
    assert not any("probe chose" in m for m in again.messages) and any("probe.json" in m for m in again.messages)
    open_run(run_dir, comp, resumed, again)  # raises ConfigError if the config hash differed
