"""Quality bars for CI: `map50=0.5` style minimums on an evaluation's headline metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distil.utils.suggest import did_you_mean

METRICS = ("map50_95", "map50", "map75", "precision", "recall", "f1")


def check_bars(bars: Mapping[str, Any]) -> dict[str, float]:
    """Validate metric -> minimum; raises ValueError naming the bad metric or value."""
    for metric, value in bars.items():
        if metric not in METRICS:
            raise ValueError(
                f"unknown metric '{metric}'.{did_you_mean(metric, METRICS)} "
                f"Metrics: {', '.join(METRICS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{metric}: expected a number in [0, 1], got {value!r}")
    return {k: float(v) for k, v in bars.items()}


def missed_bars(metrics: Mapping[str, float], bars: Mapping[str, float]) -> list[str]:
    """Human-readable list of the bars that `metrics` do not reach.

    >>> missed_bars({"map50": 0.4, "recall": 0.9}, {"map50": 0.5, "recall": 0.8})
    ['map50 0.4000 < 0.5']
    """
    return [f"{k} {metrics[k]:.4f} < {v}" for k, v in bars.items() if metrics[k] < v]
