"""Typed configuration: pydantic models loaded from TOML and overridden from the command line.

Every configurable thing in kk (the project's `kk.toml`, training recipes, kernels) is a `KKConfig`
subclass. They share one loading path (`load_toml`), one override syntax (`--set section.key=value`, the
value parsed as a TOML value) and one printed form (`to_toml`).

Example:
    >>> class Optimizer(KKConfig):
    ...     lr: float = 1e-3
    >>> class Recipe(KKConfig):
    ...     epochs: int = 8
    ...     optimizer: Optimizer = Optimizer()
    >>> cfg = apply_overrides(Recipe(), ["optimizer.lr=3e-4", "epochs=2"])
    >>> print(to_toml(cfg), end="")
    epochs = 2
    <BLANKLINE>
    [optimizer]
    lr = 0.0003
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from kaggle_kit.errors import ConfigError

C = TypeVar("C", bound="KKConfig")


class KKConfig(BaseModel):
    """Base of every config: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _explain(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines))


def from_dict(data: dict, cls: type[C], source: str = "config") -> C:
    """Validate a plain dict into `cls`, with errors that name the offending key."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_toml(path: str | Path, cls: type[C]) -> C:
    """Load and validate a TOML file into `cls`."""
    return from_dict(read_toml(path), cls, source=str(path))


def parse_value(text: str) -> Any:
    """Parse an override's value as TOML (`3e-4`, `true`, `[0, 1]`, `"x"`); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: C, overrides: list[str] | None) -> C:
    """Return a copy of `cfg` with `key.sub=value` overrides applied and re-validated."""
    if not overrides:
        return cfg
    data = cfg.model_dump(mode="python")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. optimizer.lr=3e-4")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section of the configuration")
            node = node[part]
        if parts[-1] not in node and not _allows_extra(cfg, parts):
            raise ConfigError(f"--set {item!r}: unknown key {key!r} (known here: {', '.join(sorted(node))})")
        node[parts[-1]] = parse_value(value.strip())
    return from_dict(data, type(cfg), source="the command line (a --set key=value or a flag such as --folds)")


def flag_overrides(**flags: Any) -> list[str]:
    """Command-line flags as overrides: `flag_overrides(epochs=3, **{"optimizer.lr": 1e-3})` -> `["epochs=3", ...]`.

    Flags left at None (or False) are not overrides; strings are quoted so TOML parses them back as strings.
    """
    out = []
    for key, value in flags.items():
        if value is None or value is False:
            continue
        if isinstance(value, bool):
            out.append(f"{key}=true")
        elif isinstance(value, str):
            out.append(f"{key}={json.dumps(value)}")
        else:
            out.append(f"{key}={value!r}")
    return out


def _allows_extra(cfg: KKConfig, parts: list[str]) -> bool:
    """Free-form dict fields (e.g. model.params) accept new keys."""
    node: Any = cfg
    for part in parts[:-1]:
        node = getattr(node, part, None) if isinstance(node, BaseModel) else (node or {}).get(part)
    return isinstance(node, dict)


def to_dict(cfg: KKConfig) -> dict:
    """The config as plain TOML-friendly data (None values dropped: TOML has no null)."""

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return clean(cfg.model_dump(mode="json"))


def to_toml(cfg: KKConfig) -> str:
    return tomli_w.dumps(to_dict(cfg))
