"""The typed config: TOML loading, --set overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from kaggle_kit.config import apply_overrides, load_toml, to_toml
from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import RecipeConfig


def test_toml_round_trip(tmp_path):
    cfg = RecipeConfig(name="mine", epochs=3)
    path = tmp_path / "r.toml"
    path.write_text(to_toml(cfg))
    assert load_toml(path, RecipeConfig) == cfg


def test_overrides_parse_toml_values():
    cfg = apply_overrides(RecipeConfig(), ["optimizer.lr=3e-4", "epochs=2", "optimizer.name=nadam",
                                           "schedule.boundaries=[2, 4]", "model.params.width=0.5"])
    assert cfg.optimizer.lr == pytest.approx(3e-4) and cfg.epochs == 2 and cfg.optimizer.name == "nadam"
    assert cfg.schedule.boundaries == [2, 4] and cfg.model.params == {"width": 0.5}


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs", "expected key=value"),
        ("optimizr.lr=1", "'optimizr' is not a section"),
        ("optimizer.rate=1", "unknown key 'optimizer.rate'"),
        ("optimizer.name=adamw", "optimizer.name"),
        ("epochs=0", "epochs"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        apply_overrides(RecipeConfig(), [override])


def test_unknown_key_in_file_is_an_error(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("epochs = 2\nepoch = 3\n")
    with pytest.raises(ConfigError, match=r"r.toml: invalid configuration\n  epoch: Extra inputs are not permitted"):
        load_toml(path, RecipeConfig)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("epochs = = 2\n")
    with pytest.raises(ConfigError, match="r.toml: not valid TOML"):
        load_toml(path, RecipeConfig)
