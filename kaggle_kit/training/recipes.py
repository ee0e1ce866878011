"""Named recipes: the TOML files in `kaggle_kit/recipes/`, or any recipe file a user copied and edited.

`load_recipe("seed003")` reads the bundled `seed003.toml`; `load_recipe("my.toml")` reads that file. A recipe
whose `optimizer.lr = "finder"` takes its learning rate from the newest `kk lr-find` result for the
competition (`resolve_lr`).

Example:
    >>> available_recipes()[:3]
    ['default', 'knn', 'random-forest']
    >>> cfg = load_recipe("default")
    >>> cfg, source = resolve_lr(cfg, "digit-recognizer")
"""

from __future__ import annotations

import json
from pathlib import Path

from kaggle_kit.config import apply_overrides, from_dict, read_toml
from kaggle_kit.errors import ConfigError
from kaggle_kit.training.config import RecipeConfig

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
LR_FINDER_DIR = "lr-find"
LR_FINDER_FILE = "lr_finder.json"


def available_recipes() -> list[str]:
    """Names of the bundled recipes (file stems), sorted."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def recipe_path(name_or_path: str | Path) -> Path:
    """The file a recipe name or path refers to; an unknown name is a `ConfigError` listing the known ones."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if text.endswith(".toml") or path.is_file() or "/" in text:
        if not path.is_file():
            raise ConfigError(f"{path}: recipe file not found")
        return path
    bundled = RECIPES_DIR / f"{text}.toml"
    if not bundled.is_file():
        raise ConfigError(f"unknown recipe {text!r}; bundled recipes: {', '.join(available_recipes())}",
                          hint="Or pass a recipe file: --config my_recipe.toml (print one to copy with: kk recipes NAME).")
    return bundled


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Load a bundled recipe by name (`"seed003"`) or a recipe file by path, then apply `key=value` overrides.

    A file without a `name` takes its file name, so runs stay recognisable.
    """
    path = recipe_path(name_or_path)
    cfg = apply_overrides(_read_recipe(path), overrides)
    try:
        return check_components(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None


def _read_recipe(path: Path) -> RecipeConfig:
    """The recipe file validated against the schema (ranges, fields), its names not yet looked up."""
    data = read_toml(path)
    data.setdefault("name", path.stem)
    return from_dict(data, RecipeConfig, source=str(path))


def check_components(cfg: RecipeConfig) -> RecipeConfig:
    """Check that every component the recipe names is registered; an unknown one is a `ConfigError` naming the
    field and listing the choices. Loss, optimizer and schedule names are fixed choices of the schema itself.

    A Keras model name loads TensorFlow to look it up (the baselines and augmentation back ends do not).
    """
    from kaggle_kit.training.baselines import BASELINE_MODELS
    from kaggle_kit.training.data import AUGMENTATIONS

    AUGMENTATIONS.get(cfg.augment.backend)
    if cfg.model.name not in BASELINE_MODELS:
        from kaggle_kit.training.models import MODELS

        if cfg.model.name not in MODELS:
            raise ConfigError(f"model.name: unknown model {cfg.model.name!r} "
                              f"(known: {', '.join(MODELS.names() + BASELINE_MODELS.names())})")
    return cfg


def resolve_recipe(recipe: str | None = None, config: str | Path | None = None, overrides: list[str] | None = None,
                   base: RecipeConfig | None = None) -> RecipeConfig:
    """The recipe a command runs: `--recipe NAME` or `--config FILE`, else `base` (a resumed run's own config),
    else kk.toml's recipe (or `default`); then the overrides.
    """
    from kaggle_kit.project import load_project

    if recipe and config:
        raise ConfigError("give either --recipe or --config, not both")
    if recipe or config or base is None:
        project = load_project()
        cfg = load_recipe(config if config else (recipe or (project.recipe if project else "default")))
    else:
        cfg = base
    return check_components(apply_overrides(cfg, overrides))


def recipe_text(name_or_path: str | Path) -> str:
    """The recipe file's text, comments included (what users copy to start their own)."""
    return recipe_path(name_or_path).read_text()


def recipe_summary(name_or_path: str | Path) -> str:
    """One line: the recipe's `description`, else the first comment line of its file."""
    path = recipe_path(name_or_path)
    cfg = _read_recipe(path)  # the listing needs no component lookup (which may load TensorFlow)
    if cfg.description:
        return cfg.description
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


# --- learning rate from the finder -------------------------------------------------------------------------------

def lr_finder_root(competition: str, runs_base: str | Path | None = None) -> Path:
    """`runs/<competition>/lr-find/`, where `kk lr-find` keeps its results (one timestamped folder each)."""
    if runs_base is None:
        from kaggle_kit.project import runs_dir

        runs_base = runs_dir()
    return Path(runs_base) / competition / LR_FINDER_DIR


def latest_lr_finder(competition: str, runs_base: str | Path | None = None) -> Path | None:
    """The newest `lr_finder.json` for `competition` (folder names are UTC timestamps, so they sort by time)."""
    root = lr_finder_root(competition, runs_base)
    found = sorted(root.glob(f"*/{LR_FINDER_FILE}"), key=lambda p: (p.parent.name, p.stat().st_mtime))
    return found[-1] if found else None


def suggested_lr(result_file: str | Path) -> float:
    """The learning rate a finder result suggests for training (`lr_finder.json` as `kk lr-find` wrote it)."""
    path = Path(result_file)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the learning-rate finder result ({exc})") from None
    for key in ("suggested",):
        value = data.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    raise ConfigError(f"{path}: no suggested learning rate in this finder result (keys: {', '.join(data)})")


def resolve_lr(recipe: RecipeConfig, competition: str, runs_base: str | Path | None = None
               ) -> tuple[RecipeConfig, str]:
    """Return (recipe with a numeric `optimizer.lr`, where the number came from).

    `lr = "finder"` takes the newest `kk lr-find` suggestion for `competition`; none is a clear `ConfigError`.
    """
    lr = recipe.optimizer.lr
    if lr != "finder":
        return recipe, "recipe"
    found = latest_lr_finder(competition, runs_base)
    if found is None:
        raise ConfigError(
            f"recipe {recipe.name!r} sets optimizer.lr = \"finder\" but no learning-rate finder result exists for "
            f"{competition} (looked in {lr_finder_root(competition, runs_base)})",
            hint=f"Run `kk lr-find {competition} --recipe {recipe.name}` first, or give a number: --lr 1e-3.",
        )
    value = suggested_lr(found)
    optimizer = recipe.optimizer.model_copy(update={"lr": value})
    return recipe.model_copy(update={"optimizer": optimizer}), f"finder ({found})"
