"""Competition metrics, looked up by the name in `competition.json` (`"metric": "categorizationaccuracy"`).

A metric takes the solution's labels and the submission's labels (as strings, aligned by id) and returns a float.
Names are matched case-insensitively, ignoring spaces, dashes and underscores ("Categorization Accuracy" works).

Example:
    >>> get_metric("categorizationaccuracy").score(["1", "2", "3", "4"], ["1", "2", "3", "0"])
    0.75

Adding one:
    >>> @register_metric("macrof1")
    ... def macro_f1(y_true, y_pred): ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MetricFn = Callable[[Sequence[str], Sequence[str]], float]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    higher_is_better: bool = True

    def score(self, y_true: Sequence[str], y_pred: Sequence[str]) -> float:
        if len(y_true) != len(y_pred):
            raise ValueError(f"{self.name}: {len(y_true)} true labels but {len(y_pred)} predictions")
        return float(self.fn(y_true, y_pred))


METRICS: dict[str, Metric] = {}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def register_metric(name: str, higher_is_better: bool = True) -> Callable[[MetricFn], MetricFn]:
    """Decorator adding `fn(y_true, y_pred) -> float` to the registry under `name`."""

    def deco(fn: MetricFn) -> MetricFn:
        METRICS[_key(name)] = Metric(_key(name), fn, higher_is_better)
        return fn

    return deco


def get_metric(name: str) -> Metric:
    try:
        return METRICS[_key(name)]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}") from None


@register_metric("categorizationaccuracy")
def categorization_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of exact label matches (labels compared as trimmed strings, as Kaggle does); 0.0 for no rows."""
    if not y_true:
        return 0.0
    return sum(t.strip() == p.strip() for t, p in zip(y_true, y_pred)) / len(y_true)
