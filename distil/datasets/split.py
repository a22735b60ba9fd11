"""Seeded, group-aware train/val/test splits."""

from __future__ import annotations

import random
from collections.abc import Sequence

from distil.settings import SPLIT_NAMES


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
