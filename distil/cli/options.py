"""Parsing of `KEY=VALUE` options shared by several commands."""

from __future__ import annotations

from typing import Any

import yaml


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, Any]:
    """['lr0=0.01', 'mosaic=0'] -> {'lr0': 0.01, 'mosaic': 0}; values are YAML scalars.

    >>> parse_assignments(["lr0=0.01", "name=a b"], "--set")
    {'lr0': 0.01, 'name': 'a b'}
    """
    result: dict[str, Any] = {}
    for item in items or []:
        for part in item.split(",") if flag == "--fail-under" else [item]:
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{flag} {part!r}: expected KEY=VALUE")
            result[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return result


def parse_fail_under(items: list[str] | None) -> dict[str, float]:
    """--fail-under map50=0.5[,recall=0.6]: metric -> minimum."""
    from distil.evaluation import METRICS
    from distil.utils.suggest import did_you_mean

    bars = parse_assignments(items, "--fail-under")
    for metric, value in bars.items():
        if metric not in METRICS:
            raise ValueError(
                f"--fail-under: unknown metric '{metric}'."
                f"{did_you_mean(metric, METRICS)} Metrics: {', '.join(METRICS)}"
            )
        if not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"--fail-under {metric}: expected a number in [0, 1], got {value!r}")
    return {k: float(v) for k, v in bars.items()}


def missed_bars(metrics: dict[str, float], bars: dict[str, float]) -> list[str]:
    """Human-readable list of the bars that `metrics` do not reach."""
    return [f"{k} {metrics[k]:.4f} < {v}" for k, v in bars.items() if metrics[k] < v]
