"""Seeded, group-aware train/val/test splits.

A video's frames share one split. When that leaves a requested split empty (one long
video, a few videos), each video is cut by time into contiguous chunks that are split as
groups, and the frames near a cut between two splits (within CHUNK_GAP_S, or a quarter of
a chunk in a short video) are left out, so that neighbouring, near-identical frames never sit on
both sides.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

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


CHUNK_GAP_S = 2.0  # seconds left out on each side of a cut between two splits


@dataclass
class SplitPlan:
    """Each source's split (None: left out, in the gap between chunks of two splits)."""

    splits: list[str | None]
    chunked_videos: int = 0  # videos whose chunks went to different splits
    gap_frames: int = 0
    unfilled: list[str] = field(default_factory=list)  # requested splits still empty
    rearranged: bool = False  # videos were chunked (cut apart or not) to fill the splits

    def note(self) -> str | None:
        """What the card and the export summary say about the split, if anything."""
        notes = []
        if self.rearranged and not self.chunked_videos:
            notes.append(
                "to fill the splits, videos were divided into chunks of time; no video ended "
                "up in two splits"
            )
        if self.chunked_videos:
            videos = (
                "1 video was" if self.chunked_videos == 1 else f"{self.chunked_videos} videos were"
            )
            notes.append(
                f"{videos} cut by time into chunks to fill the splits; {self.gap_frames} "
                "frames next to a cut were left out, so no neighbouring frames straddle splits"
            )
        if self.unfilled:
            notes.append(
                f"the {', '.join(self.unfilled)} split got no frames (too few images or "
                "videos to split apart): scores on it would be on training frames"
            )
        return "; ".join(notes) or None


def plan_splits(
    groups: Sequence[str],
    seconds: Sequence[float | None],
    fractions: Sequence[float],
    seed: int = 0,
) -> SplitPlan:
    """`assign_splits`, and when a split asked for stays empty, the same over chunks of
    each video (`seconds[i]` is item i's time in its video, None for an image)."""
    wanted = [SPLIT_NAMES[i] for i, f in enumerate(fractions) if f > 0]
    splits: list[str | None] = list(assign_splits(groups, fractions, seed))
    if not _missing(splits, wanted) or all(s is None for s in seconds):
        return SplitPlan(splits, unfilled=_missing(splits, wanted))
    longest = max(
        Counter(g for g, t in zip(groups, seconds, strict=True) if t is not None).values()
    )
    chunks = min(max(4, math.ceil(4 / min(f for f in fractions if f > 0))), max(2, longest // 3))
    chunk_of = _chunks(groups, seconds, chunks)
    chunked = assign_splits(chunk_of, fractions, seed)
    splits = list(chunked)
    gap = cut_videos = 0
    for video in {g for g, t in zip(groups, seconds, strict=True) if t is not None}:
        members = sorted(
            (t, i) for i, (g, t) in enumerate(zip(groups, seconds, strict=True)) if g == video
        )
        span = members[-1][0] - members[0][0]
        step = span / max(len(members) - 1, 1)  # the time between two kept frames
        # At least the frames on either side of a cut go, however short the video.
        margin = max(min(CHUNK_GAP_S, span / chunks / 4), step / 2 + 1e-9)
        cuts = [
            (members[k][0] + members[k + 1][0]) / 2
            for k in range(len(members) - 1)
            if chunked[members[k][1]] != chunked[members[k + 1][1]]
        ]
        cut_videos += bool(cuts)
        for time, index in members:
            if any(abs(time - cut) <= margin for cut in cuts):
                splits[index] = None
                gap += 1
    return SplitPlan(splits, cut_videos, gap, _missing(splits, wanted), rearranged=True)


def _missing(splits: Sequence[str | None], wanted: Sequence[str]) -> list[str]:
    return [name for name in wanted if name not in splits]


def _chunks(groups: Sequence[str], seconds: Sequence[float | None], count: int) -> list[str]:
    """Each item's group, a video's frames cut into `count` contiguous chunks of time."""
    spans: dict[str, tuple[float, float]] = {}
    for group, time in zip(groups, seconds, strict=True):
        if time is not None:
            low, high = spans.get(group, (time, time))
            spans[group] = (min(low, time), max(high, time))
    chunk_of = []
    for group, time in zip(groups, seconds, strict=True):
        if time is None:
            chunk_of.append(group)
            continue
        low, high = spans[group]
        position = 0 if high <= low else int((time - low) / (high - low) * count)
        chunk_of.append(f"{group}#{min(position, count - 1)}")
    return chunk_of
