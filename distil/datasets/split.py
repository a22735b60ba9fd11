"""Seeded, group-aware train/val/test splits."""

from __future__ import annotations

import random
from collections.abc import Sequence

SPLIT_NAMES = ("train", "val", "test")


def parse_split(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' or '0.8,0.2' -> fractions that sum to 1 (train, val, test)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--split '{text}': expected numbers like 0.8,0.1,0.1") from None
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        raise ValueError(f"--split '{text}': expected 1 to 3 non-negative fractions")
    total = sum(values)
    if abs(total - 1) > 1e-6:
        raise ValueError(f"--split '{text}': fractions must sum to 1, they sum to {total:g}")
    return tuple(values + [0.0] * (3 - len(values)))  # type: ignore[return-value]


def assign_splits(groups: Sequence[str], fractions: Sequence[float], seed: int = 0) -> list[str]:
    """The split name of each item; items sharing a group always share a split.

    Groups are sorted, shuffled with `seed` and laid end to end; each group goes to the
    split whose cumulative share contains the group's midpoint, so the result depends only
    on the set of groups, the fractions and the seed, never on input order.
    """
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    total = len(groups)
    bounds, acc = [], 0.0
    for fraction in fractions:
        acc += fraction
        bounds.append(acc * total)
    split_of: dict[str, str] = {}
    position = 0
    for g in order:
        middle = position + sizes[g] / 2
        index = next((i for i, b in enumerate(bounds) if middle < b), len(bounds) - 1)
        split_of[g] = SPLIT_NAMES[index]
        position += sizes[g]
    return [split_of[g] for g in groups]
