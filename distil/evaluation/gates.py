"""Quality bars for CI: `map50=0.5` style minimums on an evaluation's headline metrics."""

from __future__ import annotations

from collections.abc import Mapping

from distil.settings import METRICS, check_bars

__all__ = ["METRICS", "check_bars", "missed_bars"]


def missed_bars(metrics: Mapping[str, float], bars: Mapping[str, float]) -> list[str]:
    """Human-readable list of the bars that `metrics` do not reach.

    >>> missed_bars({"map50": 0.4, "recall": 0.9}, {"map50": 0.5, "recall": 0.8})
    ['map50 0.4000 < 0.5']
    """
    return [f"{k} {metrics[k]:.4f} < {v}" for k, v in bars.items() if metrics[k] < v]
