"""Named components, timm / `keras.*.get` style: what a recipe names is built by looking the name up here.

One `Registry` per kind of component (models, fold trainers, losses, optimizers, schedules, augmentation back
ends). A module registers its components with the `register` decorator when it is imported; `get` returns one
by name, and an unknown name is a `ConfigError` that lists the known ones. Each entry's description is the
first line of its docstring, so `kk recipes --components` documents itself.

Example:
    >>> shapes = Registry("shape", field="shape.name")
    >>> @shapes.register("square")
    ... def square(side):
    ...     '''A square of the given side.'''
    ...     return side * side
    >>> shapes.get("square")(3)
    9
    >>> shapes.names(), shapes.describe("square")
    (['square'], 'A square of the given side.')
    >>> shapes.get("circle")
    Traceback (most recent call last):
    ...
    kaggle_kit.errors.ConfigError: shape.name: unknown shape 'circle' (known: square)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Generic, TypeVar

from kaggle_kit.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Components of one `kind`, by name. `field` is the recipe field that names them (used in errors)."""

    def __init__(self, kind: str, field: str | None = None):
        self.kind = kind
        self.field = field or kind
        self._entries: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, description: str | None = None) -> Callable[[T], T]:
        """Decorator: register the decorated function or class under `name` (its docstring's first line
        describes it unless `description` is given). Registering a different object under a taken name fails."""

        def deco(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            self._descriptions[name] = description if description is not None else _first_line(obj)
            return obj

        return deco

    def get(self, name: str) -> T:
        """The component registered as `name`; an unknown name is a `ConfigError` naming the field and the choices."""
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"{self.field}: unknown {self.kind} {name!r} (known: {', '.join(self.names())})"
                              ) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def describe(self, name: str) -> str:
        """One line about `name` (its docstring's first line)."""
        self.get(name)
        return self._descriptions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def _first_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""
